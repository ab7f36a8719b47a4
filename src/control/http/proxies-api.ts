// What the control plane knows of its proxies: each connected one with the versions sent and ACKed per type and
// the full error of its last NACK (`trellis proxy-status`), and the configuration it is sent (`proxy-config`).

import type { XdsServer } from "../xds/server.ts";
import type { SnapshotSource, ProxyStatus } from "../xds/types.ts";
import { CONFIG_TYPES } from "../snapshot.ts";
import { redactSecret, SECRET_TYPE_URL } from "../secrets.ts";
import type { Problem } from "../translate/problems.ts";
import type { ApiRouter } from "./router.ts";

export function proxyStatusJson(p: ProxyStatus, problems?: readonly Problem[]): Record<string, unknown> {
  return {
    nodeId: p.nodeId,
    cluster: p.cluster,
    protocol: p.protocol,
    connectedSince: new Date(p.connectedSince).toISOString(),
    metadata: p.metadata,
    types: Object.fromEntries(
      p.types.map((t) => [
        t.typeUrl,
        {
          sentVersion: t.sentVersion,
          ackedVersion: t.ackedVersion,
          nonce: t.nonce,
          ...(t.subscribed ? { subscribed: t.subscribed } : {}),
          ...(t.lastNack
            ? {
                nack: {
                  message: t.lastNack.error,
                  code: t.lastNack.code,
                  at: new Date(t.lastNack.at).toISOString(),
                  rejectedVersion: t.lastNack.rejectedVersion,
                },
              }
            : {}),
        },
      ]),
    ),
    ...(problems !== undefined && { problems }),
  };
}

/**
 * `problems`: per node id, what its configuration leaves out and the not-enforced resources that select it
 * (problem-report.ts); each proxy's entry then carries them.
 */
export function addProxyRoutes(
  router: ApiRouter,
  xds: XdsServer,
  source: SnapshotSource,
  problems?: () => ReadonlyMap<string, readonly Problem[]>,
): void {
  router
    .add("GET", "/api/v1/proxies", () => {
      const of = problems?.();
      return {
        status: 200,
        json: {
          proxies: xds
            .proxies()
            .map((p) => proxyStatusJson(p, of === undefined ? undefined : (of.get(p.nodeId) ?? []))),
        },
      };
    })
    .add("GET", "/api/v1/proxies/:id/config/:type", (req) => {
      const typeUrl = CONFIG_TYPES[req.params.type!];
      if (typeUrl === undefined)
        return { status: 400, json: { errors: [`type: expected one of ${Object.keys(CONFIG_TYPES).join(", ")}`] } };
      const status = xds.proxies().find((p) => p.nodeId === req.params.id);
      if (status === undefined) return { status: 404, json: { errors: [`proxy ${req.params.id}: not connected`] } };
      const snapshot = source.snapshotFor({
        id: status.nodeId,
        cluster: status.cluster,
        metadata: status.metadata,
        userAgentName: "",
      });
      const items = [...(snapshot.get(typeUrl)?.values() ?? [])];
      // Never a key: a secret is shown as Envoy's config_dump shows it, the private key redacted.
      return { status: 200, json: { items: typeUrl === SECRET_TYPE_URL ? items.map(redactSecret) : items } };
    });
}
