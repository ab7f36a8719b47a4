// The mesh end to end, as issue 4 asks: a control plane on the embedded store; two reviews workloads (v1, v2) and
// a caller, each with a sidecar fed over xDS; a VirtualService applied with a 90/10 split — traffic follows within
// statistical bounds; changed to 0/100 — every new request goes to v2 within a second; the control plane stopped —
// traffic goes on unchanged; restarted on the same data — nothing was lost.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemClock } from "../src/api/clock.ts";
import { mulberry32 } from "../src/api/random.ts";
import { TYPE_URL } from "../src/api/xds/wire/codec.ts";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { Proxy } from "../src/proxy/server.ts";
import { XdsClient } from "../src/proxy/xds-client/client.ts";
import { nodeFromIdentity } from "../src/proxy/xds-client/node.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";
import { freePorts } from "./support/etcd.ts";
import { runBounded, waitFor } from "./support/wait.ts";
import { binomialBounds } from "./support/binomial.ts";

interface Sidecar {
  proxy: Proxy;
  client: XdsClient;
  acked: Map<string, string>;
  stop(): Promise<void>;
}

async function startSidecar(
  xdsPort: number,
  nodeId: string,
  outboundPort: number,
  service?: string,
  labels: Record<string, string> = {},
): Promise<Sidecar> {
  const node = nodeFromIdentity({
    nodeId,
    service,
    namespace: "default",
    labels,
    instanceIps: ["127.0.0.1"],
    outboundPort,
  });
  const proxy = new Proxy(
    { node, admin: undefined, staticResources: { listeners: [], clusters: [] }, drainTimeoutMs: 100 },
    { log: () => {}, random: mulberry32(nodeId.length) },
  );
  await proxy.start();
  const client = new XdsClient({
    servers: [`127.0.0.1:${xdsPort}`],
    node,
    target: proxy,
    clock: systemClock,
    log: () => {},
  });
  const acked = new Map<string, string>();
  client.onEvent((e) => {
    if (e.kind === "ack") acked.set(e.typeUrl, e.versionInfo);
  });
  client.start();
  return {
    proxy,
    client,
    acked,
    stop: async () => {
      client.stop();
      await proxy.shutdown(0);
    },
  };
}

const rules = (v1: number, v2: number): string => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews }
spec:
  host: reviews
  subsets:
  - { name: v1, labels: { version: v1 } }
  - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - route:
    - { destination: { host: reviews, subset: v1 }, weight: ${v1} }
    - { destination: { host: reviews, subset: v2 }, weight: ${v2} }
`;

describe("the mesh end to end", () => {
  let dataDir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let v1: Upstream;
  let v2: Upstream;
  const sidecars: Sidecar[] = [];
  let caller: Sidecar;
  let callerPort: number;
  let v2SidecarPort: number;
  let xdsPort: number;
  let apiPort: number;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });

  const api = async (method: string, path: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as Record<string, unknown>;
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  const callReviews = (path = "/reviews/1", port = callerPort): Promise<string> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port, path, headers: { host: "reviews" }, agent }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () =>
          resolve(res.statusCode === 200 ? (JSON.parse(body) as { name: string }).name : `${res.statusCode}`),
        );
      });
      req.on("error", reject);
    });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "trellis-mesh-"));
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    xdsPort = cp.xdsPort;
    apiPort = cp.apiPort;
    v1 = await startEchoServer("v1");
    v2 = await startEchoServer("v2");
    const [s1, s2, o1, o2, o3] = (await freePorts(5)) as [number, number, number, number, number];
    callerPort = o3;
    v2SidecarPort = s2;
    for (const [version, upstream, sidecarPort, outbound] of [
      ["v1", v1, s1, o1],
      ["v2", v2, s2, o2],
    ] as const) {
      await api("POST", "/api/v1/registry/instances", {
        service: "reviews",
        labels: { app: "reviews", version },
        address: "127.0.0.1",
        ports: [{ name: "http", number: upstream.port, protocol: "HTTP", sidecarPort }],
        nodeId: `reviews-${version}`,
      });
      sidecars.push(
        await startSidecar(xdsPort, `reviews-${version}`, outbound, "reviews", { app: "reviews", version }),
      );
    }
    caller = await startSidecar(xdsPort, "productpage", callerPort, undefined, { app: "productpage" });
    sidecars.push(caller);
  });

  after(async () => {
    agent.destroy();
    for (const s of sidecars) await s.stop();
    await cp.stop();
    await store.close();
    await v1.close();
    await v2.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  test("a 90/10 split is followed within statistical bounds", async () => {
    await api("POST", "/api/v1/apply", { files: [{ name: "reviews.yaml", content: rules(90, 10) }] });
    // Ready when the caller serves the route and both subsets' sidecars have their inbound listeners.
    await waitFor(() => caller.acked.has(TYPE_URL.routeConfiguration), 15_000);
    let ready = false;
    while (!ready) {
      const seen = await runBounded(40, 4, () => callReviews());
      ready = seen.every((s) => s === "v1" || s === "v2") && seen.includes("v1");
    }
    const n = 1000;
    const results = await runBounded(n, 8, () => callReviews());
    const toV2 = results.filter((r) => r === "v2").length;
    assert.equal(
      results.filter((r) => r !== "v1" && r !== "v2").length,
      0,
      `failures: ${results.filter((r) => r !== "v1" && r !== "v2").slice(0, 5)}`,
    );
    const [lo, hi] = binomialBounds(n, 0.1);
    assert.ok(toV2 >= lo && toV2 <= hi, `${toV2} of ${n} to v2, expected ${lo.toFixed(0)}-${hi.toFixed(0)}`);
  });

  test("0/100: every new request goes to v2 within a second", async () => {
    const before = caller.acked.get(TYPE_URL.routeConfiguration);
    const started = Date.now();
    await api("POST", "/api/v1/apply", { files: [{ name: "reviews.yaml", content: rules(0, 100) }] });
    await waitFor(() => caller.acked.get(TYPE_URL.routeConfiguration) !== before, 5_000);
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 1000, `the caller applied the change after ${elapsed} ms`);
    const results = await runBounded(200, 8, () => callReviews());
    assert.deepEqual([...new Set(results)], ["v2"]);
    const status = (await api("GET", "/api/v1/proxies")).proxies as {
      nodeId: string;
      types: Record<string, { ackedVersion: string; sentVersion: string }>;
    }[];
    const callerStatus = status.find((p) => p.nodeId === "productpage")!;
    const rds = callerStatus.types[TYPE_URL.routeConfiguration]!;
    assert.equal(rds.ackedVersion, rds.sentVersion);
  });

  test("the control plane stops: traffic goes on; it restarts on the same data: nothing was lost", async () => {
    await cp.stop();
    await store.close();
    const during = await runBounded(200, 8, () => callReviews());
    assert.deepEqual([...new Set(during)], ["v2"]);
    store = await EmbeddedStore.open({ dataDir });
    cp = new ControlPlane({ store, xdsPort, apiPort, debounceMs: 20, log: () => {} });
    await cp.start();
    const vs = await api("GET", "/api/v1/resources/VirtualService/default/reviews");
    assert.equal((vs.spec as { http: { route: { weight: number }[] }[] }).http[0]!.route[1]!.weight, 100);
    const instances = (await api("GET", "/api/v1/registry/instances")).instances as unknown[];
    assert.equal(instances.length, 2, "registered workloads survive the restart");
    // The sidecars reconnect (backoff) and are served the same configuration: traffic is unchanged throughout.
    await waitFor(() => cp.registry.list().length === 2);
    const proxiesBack = async (): Promise<number> =>
      ((await api("GET", "/api/v1/proxies")).proxies as unknown[]).length;
    const deadline = Date.now() + 20_000;
    while ((await proxiesBack()) < 3 && Date.now() < deadline) await runBounded(10, 2, () => callReviews());
    assert.equal(await proxiesBack(), 3);
    const after = await runBounded(200, 8, () => callReviews());
    assert.deepEqual([...new Set(after)], ["v2"]);
  });
  test("a Sidecar's ingress listeners replace v2's inbound port; a root VirtualService delegates its routes", async () => {
    const [extra] = (await freePorts(1)) as [number];
    const v2Sidecar = sidecars[1]!; // started in order: v1, v2, the caller
    const ldsBefore = v2Sidecar.acked.get(TYPE_URL.listener);
    const content = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: reviews-v2 }
spec:
  workloadSelector: { labels: { app: reviews, version: v2 } }
  ingress:
  - { port: { number: ${v2SidecarPort}, protocol: HTTP, name: http }, defaultEndpoint: "127.0.0.1:${v2.port}" }
  - { port: { number: ${extra}, protocol: HTTP, name: extra }, defaultEndpoint: "127.0.0.1:${v2.port}" }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews }
spec:
  hosts: [reviews]
  http:
  - { match: [{ uri: { prefix: /reviews } }], timeout: 5s, delegate: { name: reviews-routes } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: reviews-routes }
spec:
  http:
  - { match: [{ uri: { prefix: /reviews/1 } }], route: [{ destination: { host: reviews, subset: v1 } }] }
  - { route: [{ destination: { host: reviews, subset: v2 } }] }
`;
    const routesBefore = caller.acked.get(TYPE_URL.routeConfiguration);
    await api("POST", "/api/v1/apply", { files: [{ name: "delegation.yaml", content }] });
    await waitFor(() => v2Sidecar.acked.get(TYPE_URL.listener) !== ldsBefore, 5_000);
    await waitFor(() => caller.acked.get(TYPE_URL.routeConfiguration) !== routesBefore, 5_000);
    // The new ingress port reaches v2's application directly through its sidecar.
    assert.deepEqual([...new Set(await runBounded(20, 4, () => callReviews("/anything", extra)))], ["v2"]);
    // Through the caller: the delegate's routes, under the root's /reviews prefix.
    assert.deepEqual([...new Set(await runBounded(50, 4, () => callReviews("/reviews/1")))], ["v1"]);
    assert.deepEqual([...new Set(await runBounded(50, 4, () => callReviews("/reviews/2")))], ["v2"]);
    // Outside the root's match there is no route: 404 (NR) from the caller's sidecar.
    assert.deepEqual([...new Set(await runBounded(5, 1, () => callReviews("/other")))], ["404"]);
  });
});
