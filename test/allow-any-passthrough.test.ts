// ALLOW_ANY is a real passthrough for HTTP: the real control plane translates an ALLOW_ANY sidecar's catch-all
// route to PassthroughCluster, a dynamic forward proxy cluster, and the sidecar (fed over xDS, real sockets)
// forwards a request for a host the mesh does not know to that host. The "external" host is a name the sidecar's
// injected resolver maps to 127.0.0.1, where the test's server listens.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../src/api/clock.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { renderEnvoyStatsText } from "../src/telemetry/envoy-stats-text.ts";
import { request } from "./support/clients.ts";
import { freePorts } from "./support/etcd.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { waitFor } from "./support/wait.ts";

describe("ALLOW_ANY passthrough for HTTP, through the control plane", () => {
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let external: Upstream;
  let proxy: Proxy;
  let client: XdsClient;
  let outboundPort: number;
  const asked: string[] = [];

  before(async () => {
    store = await EmbeddedStore.open({});
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    external = await startEchoServer("external");
    [outboundPort] = (await freePorts(1)) as [number];
    const node = nodeFromIdentity({
      nodeId: "web-1",
      namespace: "default",
      labels: { app: "web" },
      instanceIps: ["127.0.0.1"],
      outboundPort,
    });
    proxy = new Proxy(
      { node, admin: undefined, staticResources: { listeners: [], clusters: [] }, drainTimeoutMs: 100 },
      {
        log: () => {},
        dnsLookup: async (host) => {
          asked.push(host);
          if (host === "api.example.com") return ["127.0.0.1"];
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
        },
      },
    );
    await proxy.start();
    const acked = new Set<string>();
    client = new XdsClient({
      servers: [`127.0.0.1:${cp.xdsPort}`],
      node,
      target: proxy,
      clock: systemClock,
      log: () => {},
    });
    client.onEvent((e) => {
      if (e.kind === "ack") acked.add(e.typeUrl);
    });
    client.start();
    await waitFor(() => acked.has(TYPE_URL.listener) && acked.has(TYPE_URL.routeConfiguration));
  });

  after(async () => {
    client.stop();
    await proxy.shutdown(0);
    await cp.stop();
    await external.close();
  });

  test("a request for an external host reaches it through PassthroughCluster", async () => {
    const reply = await request(outboundPort, {
      path: "/v1/status",
      headers: { host: `api.example.com:${external.port}` },
    });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.json().url, "/v1/status");
    assert.deepEqual(asked, ["api.example.com"]);
    assert.match(renderEnvoyStatsText(proxy.stats), /^cluster\.PassthroughCluster\.upstream_rq_total: 1$/m);
  });

  test("an unresolvable external host gets 503 DF, never a crash", async () => {
    const reply = await request(outboundPort, { headers: { host: "nowhere.invalid" } });
    assert.equal(reply.status, 503);
    assert.equal(reply.headers["x-trellis-response-flags"], "DF");
    assert.equal(reply.headers["x-trellis-details"], "dns_resolution_failure:nowhere.invalid");
    const again = await request(outboundPort, { headers: { host: `api.example.com:${external.port}` } });
    assert.equal(again.status, 200);
  });

  test("a request naming the sidecar's own outbound listener is refused with 502, not forwarded to itself", async () => {
    const reply = await request(outboundPort, { headers: { host: `127.0.0.1:${outboundPort}` } });
    assert.equal(reply.status, 502);
    assert.match(reply.body, /not a destination/);
  });
});
