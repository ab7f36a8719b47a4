// A ServiceEntry with resolution DYNAMIC_DNS (Istio's wildcard egress): the real control plane translates its HTTP
// port to a dynamic forward proxy cluster named as Istio names it (outbound|PORT||*.example.com), and the sidecar
// (fed over xDS, real sockets) sends each request to its own host, resolved per request, in a REGISTRY_ONLY mesh
// where a host the entry does not match goes nowhere. The hosts are names the sidecar's injected resolver maps to
// 127.0.0.1, where the test's server listens.

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

describe("ServiceEntry resolution DYNAMIC_DNS, through the control plane", () => {
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let external: Upstream;
  let proxy: Proxy;
  let client: XdsClient;
  let outboundPort: number;
  const asked: string[] = [];
  const versions = new Map<string, string>();

  const api = async (path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> => {
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    store = await EmbeddedStore.open({});
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    external = await startEchoServer("external");
    [outboundPort] = (await freePorts(1)) as [number];
    const entry = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: wildcard-api, namespace: default }
spec:
  hosts: ["*.example.com"]
  ports: [{ number: ${external.port}, name: http, protocol: HTTP }]
  location: MESH_EXTERNAL
  resolution: DYNAMIC_DNS
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: default }
spec:
  egress: [{ hosts: ["./*"] }]
  outboundTrafficPolicy: { mode: REGISTRY_ONLY }
`;
    const applied = await api("/api/v1/apply", { files: [{ name: "egress.yaml", content: entry }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
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
          if (host.endsWith(".example.com") || host === "elsewhere.test") return ["127.0.0.1"];
          throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
        },
      },
    );
    await proxy.start();
    client = new XdsClient({
      servers: [`127.0.0.1:${cp.xdsPort}`],
      node,
      target: proxy,
      clock: systemClock,
      log: () => {},
    });
    client.onEvent((e) => {
      if (e.kind === "ack") versions.set(e.typeUrl, "acked");
      if (e.kind === "nack") versions.set(e.typeUrl, "nacked");
    });
    client.start();
    await waitFor(
      () =>
        versions.get(TYPE_URL.listener) === "acked" &&
        versions.get(TYPE_URL.routeConfiguration) === "acked" &&
        versions.get(TYPE_URL.cluster) === "acked",
    );
  });

  after(async () => {
    client.stop();
    await proxy.shutdown(0);
    await cp.stop();
    await external.close();
  });

  test("each host the wildcard matches is reached through the entry's dynamic forward proxy cluster", async () => {
    const cluster = `outbound|${external.port}||*.example.com`;
    for (const host of ["api.example.com", "eu.api.example.com"]) {
      const reply = await request(outboundPort, { path: "/v1/status", headers: { host: `${host}:${external.port}` } });
      assert.equal(reply.status, 200, reply.body);
      assert.equal(reply.json().url, "/v1/status");
    }
    assert.deepEqual(asked, ["api.example.com", "eu.api.example.com"]);
    const stats = renderEnvoyStatsText(proxy.stats);
    assert.ok(stats.includes(`cluster.${cluster}.upstream_rq_total: 2\n`), stats);
  });

  test("a host the entry does not match is not forwarded (REGISTRY_ONLY)", async () => {
    const reply = await request(outboundPort, { headers: { host: `elsewhere.test:${external.port}` } });
    assert.notEqual(reply.status, 200);
    assert.ok(!asked.includes("elsewhere.test"));
  });
});
