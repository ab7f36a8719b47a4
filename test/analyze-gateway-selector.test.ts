// Istio's gateway analyzer, live: a Gateway whose selector matches no workload the mesh runs is IST0101
// ("Referenced selector not found"), at the selector's line, as istioctl reports it against a cluster. The
// workloads are the registry's instances and the connected proxies (their labels); analyze --offline, with no
// workloads to look at, says nothing about selectors.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import type { Finding } from "../src/control/analyze/messages.ts";
import { analyzeOffline } from "../src/control/analyze/offline.ts";
import { startEchoServer, type Upstream } from "./support/upstreams.ts";

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: public
  namespace: edge
spec:
  selector:
    istio: ingressgateway
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;

describe("analyze: a Gateway selector that selects no workload (IST0101)", () => {
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let upstream: Upstream;
  before(async () => {
    store = await EmbeddedStore.open();
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 10, log: () => {} });
    await cp.start();
    upstream = await startEchoServer("gw");
  });
  after(async () => {
    await cp.stop();
    await store.close();
    await upstream.close();
  });

  const post = async (path: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  const register = async (service: string, labels: Record<string, string>) => {
    const r = await post("/api/v1/registry/instances", {
      service,
      namespace: "edge",
      labels,
      address: "127.0.0.1",
      ports: [{ name: "http", number: upstream.port, protocol: "HTTP" }],
    });
    assert.equal(r.status, 200, JSON.stringify(r.json));
  };
  const selectorFindings = async () => {
    const r = await post("/api/v1/analyze", { files: [{ name: "gateway.yaml", content: GATEWAY }] });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return (r.json.findings as Finding[])
      .filter((f) => f.resource === "Gateway/edge/public" && f.code === "IST0101")
      .map((f) => [f.level, f.code, f.message, f.file ?? null, f.line ?? null]);
  };

  test("no workload carries the labels: an error at the selector's line", async () => {
    await register("web", { app: "web" });
    assert.deepEqual(await selectorFindings(), [
      ["Error", "IST0101", 'Referenced selector not found: "istio=ingressgateway"', "gateway.yaml", 8],
    ]);
  });

  test("once a workload with the labels runs, nothing is said", async () => {
    await register("ingressgateway", { istio: "ingressgateway", app: "gw" });
    assert.deepEqual(await selectorFindings(), []);
  });

  test("offline there are no workloads to look at: nothing is said about the selector", () => {
    const report = analyzeOffline([{ name: "gateway.yaml", content: GATEWAY }]);
    assert.deepEqual(
      report.findings.filter((f) => f.code === "IST0101"),
      [],
    );
  });
});
