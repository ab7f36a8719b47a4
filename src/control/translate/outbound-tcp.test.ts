// TRELLIS_TCP_OUTBOUND_LISTENERS=false (trellis run's sidecars, which bind their --outbound destinations on ports of
// their own): no outbound-tcp-<port> or TLS listeners by port number, the TCP service's cluster still there.

import { test } from "node:test";
import assert from "node:assert/strict";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { toService } from "./testing.ts";
import { translate } from "./translate.ts";
import { World } from "./world-index.ts";

test("TRELLIS_TCP_OUTBOUND_LISTENERS=false: the TCP and TLS services' clusters come, their listeners by port number do not", () => {
  const world = World.fromResources(
    [],
    [
      toService({
        hostname: "redis.default.svc.cluster.local",
        ports: [{ name: "tcp-redis", number: 6379, protocol: "TCP" }],
        instances: [
          { address: "10.0.0.5", ports: { "tcp-redis": { appPort: 6379 } }, labels: {}, weight: 1, hasSidecar: false },
        ],
      }),
      toService({
        hostname: "db.default.svc.cluster.local",
        ports: [{ name: "tls-db", number: 5432, protocol: "TLS" }],
        instances: [
          { address: "10.0.0.6", ports: { "tls-db": { appPort: 5432 } }, labels: {}, weight: 1, hasSidecar: false },
        ],
      }),
    ],
  );
  const names = (metadata: Record<string, unknown>) => {
    const out = translate(
      world,
      proxyIdentityFromNode({ id: "caller-1.default", metadata: { NAMESPACE: "default", ...metadata } }),
    );
    return {
      listeners: out.listeners.map((l) => String(l.name)),
      clusters: out.clusters.map((c) => String(c.name)),
    };
  };
  const usual = names({});
  assert.ok(usual.listeners.includes("outbound-tcp-6379"), usual.listeners.join(", "));
  assert.ok(
    usual.listeners.some((l) => l.includes("5432")),
    usual.listeners.join(", "),
  );

  const own = names({ TRELLIS_TCP_OUTBOUND_LISTENERS: "false" });
  assert.deepEqual(
    own.listeners.filter((l) => l.includes("6379") || l.includes("5432")),
    [],
  );
  assert.ok(own.listeners.includes("outbound-http"), "the HTTP outbound listener stays");
  assert.ok(own.clusters.includes("outbound|6379||redis.default.svc.cluster.local"));
  assert.ok(own.clusters.includes("outbound|5432||db.default.svc.cluster.local"));
});
