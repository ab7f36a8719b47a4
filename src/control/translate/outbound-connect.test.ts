// CONNECT on the outbound HTTP listener of a workload that calls through HTTP_PROXY (node metadata
// TRELLIS_HTTP_PROXY=true, `trellis run`): Envoy's shapes, and none of them for other sidecars.

import { test } from "node:test";
import assert from "node:assert/strict";
import { parseRouteConfiguration } from "../../api/xds/parse/route.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { toService } from "./testing.ts";
import { translate } from "./translate.ts";
import { World } from "./world-index.ts";
import type { Json } from "./envoy.ts";

const instance = (address: string, port: string, appPort: number) => ({
  address,
  ports: { [port]: { appPort } },
  labels: {},
  weight: 1,
  hasSidecar: false,
});

function world(mode?: "REGISTRY_ONLY"): World {
  return World.fromResources(
    [],
    [
      toService({
        hostname: "meeting.default.svc.cluster.local",
        ports: [{ name: "http", number: 8080, protocol: "HTTP" }],
        instances: [instance("10.0.0.4", "http", 8080)],
      }),
      toService({
        hostname: "redis.default.svc.cluster.local",
        ports: [{ name: "tcp-redis", number: 6379, protocol: "TCP" }],
        instances: [instance("10.0.0.5", "tcp-redis", 6379)],
      }),
    ],
    mode === undefined ? {} : { outboundTrafficPolicy: mode },
  );
}

function outbound(w: World, metadata: Record<string, unknown>) {
  const out = translate(
    w,
    proxyIdentityFromNode({
      id: "caller-1.default",
      metadata: { NAMESPACE: "default", TRELLIS_OUTBOUND_PORT: "15333", ...metadata },
    }),
  );
  const listener = out.listeners.find((l) => l.name === "outbound-http")!;
  const hcm = ((listener.filter_chains as Json[])[0]!.filters as Json[])[0]!.typed_config as Json;
  const routes = out.routes.find((r) => r.name === "outbound-http")!;
  const vhost = (name: string) => (routes.virtual_hosts as Json[]).find((v) => v.name === name);
  return { out, hcm, routes, vhost };
}

const terminate = [{ upgrade_type: "CONNECT", connect_config: {} }];

test("TRELLIS_HTTP_PROXY=true: the listener allows CONNECT, each virtual host terminates it to the right cluster", () => {
  const { out, hcm, routes, vhost } = outbound(world(), { TRELLIS_HTTP_PROXY: "true" });
  assert.deepEqual(hcm.upgrade_configs, [{ upgrade_type: "CONNECT" }]);
  // An HTTP service port: the tunnel goes back to this listener, where its requests are routed as HTTP.
  const http = vhost("meeting.default.svc.cluster.local:8080")!;
  const first = (http.routes as Json[])[0]!;
  assert.deepEqual(first.match, { connect_matcher: {} });
  assert.deepEqual((first.route as Json).cluster, "outbound_http_tunnel");
  assert.deepEqual((first.route as Json).upgrade_configs, terminate);
  const tunnel = out.clusters.find((c) => c.name === "outbound_http_tunnel")!;
  assert.equal(JSON.stringify(tunnel).includes('"port_value":15333'), true, JSON.stringify(tunnel));
  // A TCP service port: a virtual host of its own, CONNECT only, to its cluster; names with the port only.
  const tcp = vhost("redis.default.svc.cluster.local:6379")!;
  assert.ok((tcp.domains as string[]).includes("redis:6379"));
  assert.ok((tcp.domains as string[]).every((d) => d.endsWith(":6379")));
  assert.deepEqual(tcp.routes, [
    {
      name: "connect",
      match: { connect_matcher: {} },
      route: { cluster: "outbound|6379||redis.default.svc.cluster.local", timeout: "0s", upgrade_configs: terminate },
    },
  ]);
  // Anything else: ALLOW_ANY passes the CONNECT through (the dynamic forward proxy resolves its host).
  const allowAny = (vhost("allow_any")!.routes as Json[])[0]!;
  assert.equal((allowAny.route as Json).cluster, "PassthroughCluster");
  assert.deepEqual((allowAny.route as Json).upgrade_configs, terminate);
  // The listener's own address is refused, for CONNECT too.
  assert.deepEqual(((vhost("passthrough_loop")!.routes as Json[])[0]!.direct_response as Json).status, 502);
  // What the proxy accepts.
  assert.doesNotThrow(() => parseRouteConfiguration(routes));
});

test("TRELLIS_HTTP_PROXY=true under REGISTRY_ONLY: a CONNECT to an unknown host gets block_all's 502", () => {
  const { vhost } = outbound(world("REGISTRY_ONLY"), { TRELLIS_HTTP_PROXY: "true" });
  const routes = vhost("block_all")!.routes as Json[];
  assert.deepEqual(routes[0]!.match, { connect_matcher: {} });
  assert.equal((routes[0]!.direct_response as Json).status, 502);
});

test("other sidecars: no CONNECT, no tunnel cluster, no virtual hosts for TCP ports", () => {
  const { out, hcm, routes, vhost } = outbound(world(), {});
  assert.equal(hcm.upgrade_configs, undefined);
  assert.equal(
    out.clusters.find((c) => c.name === "outbound_http_tunnel"),
    undefined,
  );
  assert.equal(vhost("redis.default.svc.cluster.local:6379"), undefined);
  assert.ok(!JSON.stringify(routes).includes("connect_matcher"));
});
