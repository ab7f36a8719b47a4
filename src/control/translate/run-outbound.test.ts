// TRELLIS_RUN_OUTBOUNDS (trellis run --outbound): one listener per entry on 127.0.0.1:<local port>, routed by the
// service's VirtualService tcp route (weighted subsets, sourceLabels), or to its cluster when none applies; an entry
// for a service the mesh does not have, or not of the form fqdn:port=localPort, gets none.

import { test } from "node:test";
import assert from "node:assert/strict";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { toResource, toService } from "./testing.ts";
import { translate } from "./translate.ts";
import { World } from "./world-index.ts";
import type { Json } from "./envoy.ts";

const REDIS = "redis.default.svc.cluster.local";

const world = (tcp: unknown[]): World =>
  World.fromResources(
    [
      toResource({
        apiVersion: "networking.istio.io/v1",
        kind: "DestinationRule",
        metadata: { name: "redis" },
        spec: {
          exportTo: [],
          host: REDIS,
          subsets: [
            { name: "v1", labels: { version: "v1" } },
            { name: "v2", labels: { version: "v2" } },
          ],
        },
      }),
      toResource({
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name: "redis" },
        spec: { hosts: [REDIS], http: [], tls: [], tcp, gateways: [], exportTo: [] },
      }),
    ],
    [
      toService({
        hostname: REDIS,
        ports: [{ name: "tcp-redis", number: 6379, protocol: "TCP" }],
        instances: [
          {
            address: "10.0.0.5",
            ports: { "tcp-redis": { appPort: 6379 } },
            labels: { version: "v1" },
            weight: 1,
            hasSidecar: false,
          },
          {
            address: "10.0.0.6",
            ports: { "tcp-redis": { appPort: 6379 } },
            labels: { version: "v2" },
            weight: 1,
            hasSidecar: false,
          },
        ],
      }),
    ],
  );

const runListeners = (w: World, outbounds: string, labels: Record<string, string> = {}): Json[] =>
  translate(
    w,
    proxyIdentityFromNode({
      id: "client-1.default",
      metadata: {
        NAMESPACE: "default",
        LABELS: labels,
        TRELLIS_TCP_OUTBOUND_LISTENERS: "false",
        TRELLIS_RUN_OUTBOUNDS: outbounds,
      },
    }),
  ).listeners.filter((l) => String(l.name).startsWith("run-outbound-"));

const tcpProxyOf = (l: Json): Json => ((l.filter_chains as Json[])[0]!.filters as Json[])[0]!.typed_config as Json;

test("an --outbound's listener routes by the service's tcp route: weighted subsets, on the run's local port", () => {
  const split = [
    {
      route: [
        { destination: { host: REDIS, subset: "v1" }, weight: 90 },
        { destination: { host: REDIS, subset: "v2" }, weight: 10 },
      ],
    },
  ];
  const [l, ...rest] = runListeners(
    world(split),
    `${REDIS}:6379=41234,nosuch.default.svc.cluster.local:6379=41235,bad`,
  );
  assert.deepEqual(rest, [], "no listener for a service the mesh does not have, nor for a malformed entry");
  assert.equal(l!.name, `run-outbound-${REDIS}-6379`);
  assert.deepEqual(l!.address, { socket_address: { address: "127.0.0.1", port_value: 41234 } });
  assert.deepEqual(tcpProxyOf(l!).weighted_clusters, {
    clusters: [
      { name: `outbound|6379|v1|${REDIS}`, weight: 90 },
      { name: `outbound|6379|v2|${REDIS}`, weight: 10 },
    ],
  });
});

test("without a tcp route that applies (sourceLabels of another workload) the listener goes to the service's cluster", () => {
  const onlyForV9 = [
    { match: [{ sourceLabels: { app: "other" } }], route: [{ destination: { host: REDIS, subset: "v2" } }] },
  ];
  const [l] = runListeners(world(onlyForV9), `${REDIS}:6379=41234`, { app: "client" });
  assert.equal(tcpProxyOf(l!).cluster, `outbound|6379||${REDIS}`);
  const [mine] = runListeners(world(onlyForV9), `${REDIS}:6379=41234`, { app: "other" });
  assert.equal(tcpProxyOf(mine!).cluster, `outbound|6379|v2|${REDIS}`);
});

test("two runs with other --outbound local ports do not share a translation (the outbound cache key has them)", () => {
  const w = world([]);
  const proxy = (outbounds: string) =>
    proxyIdentityFromNode({
      id: "client-1.default",
      metadata: { NAMESPACE: "default", TRELLIS_TCP_OUTBOUND_LISTENERS: "false", TRELLIS_RUN_OUTBOUNDS: outbounds },
    });
  assert.notEqual(w.outboundKey(proxy(`${REDIS}:6379=41234`)), w.outboundKey(proxy(`${REDIS}:6379=41235`)));
  assert.equal(w.outboundKey(proxy(`${REDIS}:6379=41234`)), w.outboundKey(proxy(`${REDIS}:6379=41234`)));
});
