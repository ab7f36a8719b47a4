// The Gateway API through the CLI's main() against a real control plane in this process: Istio's Gateway and the
// Gateway API's Gateway of one name are two resources (`get gateway` is Istio's, `get gtw` / `get
// gateways.gateway.networking.k8s.io` the Gateway API's), `get -o yaml` shows them as written (kind: Gateway) with
// the Gateway API's status conditions, what `get` prints applies back unchanged, and delete -f tells them apart.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import { runCli } from "./support/cli.ts";

const FILE = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 8080, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  parentRefs: [{name: edge}, {name: edge, sectionName: https}]
  hostnames: [shop.example.com]
  rules:
  - backendRefs:
    - {name: shop-v1, port: 8080, weight: 90}
    - {name: shop-v2, port: 8080, weight: 10}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: shop-v1}
spec:
  hosts: [shop-v1.default.svc.cluster.local]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]
`;

interface Condition {
  type: string;
  status: string;
  reason: string;
}

const conditions = (list: Condition[]): string[] => list.map((c) => `${c.type}=${c.status}/${c.reason}`);

describe("the Gateway API through the CLI", () => {
  let dir: string;
  let store: EmbeddedStore;
  let cp: ControlPlane;
  let env: { TRELLIS_CONTROL: string };
  let file: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "trellis-gateway-api-"));
    store = await EmbeddedStore.open({ dataDir: join(dir, "data") });
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
    await cp.start();
    env = { TRELLIS_CONTROL: `http://127.0.0.1:${cp.apiPort}` };
    file = join(dir, "shop.yaml");
    writeFileSync(file, FILE);
  });
  after(async () => {
    await cp.stop();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test("apply names each Gateway with its group; get gateway is Istio's, get gtw the Gateway API's", async () => {
    const applied = await runCli(["apply", "-f", file], env);
    assert.equal(applied.code, 0, applied.stderr);
    assert.match(applied.stdout, /^gateway\/edge \(default\) created$/m);
    assert.match(applied.stdout, /^gateway\.gateway\.networking\.k8s\.io\/edge \(default\) created$/m);
    assert.match(applied.stdout, /^httproute\/shop \(default\) created$/m);
    const istio = await runCli(["get", "gateway", "edge", "-o", "yaml"], env);
    assert.equal(istio.code, 0, istio.stderr);
    const istioDoc = parseYaml(istio.stdout) as { apiVersion: string; kind: string };
    assert.deepEqual([istioDoc.apiVersion, istioDoc.kind], ["networking.istio.io/v1", "Gateway"]);
    for (const typed of ["gtw", "gateways.gateway.networking.k8s.io", "gateway.gateway.networking.k8s.io"]) {
      const k8s = await runCli(["get", typed, "edge", "-o", "yaml"], env);
      assert.equal(k8s.code, 0, k8s.stderr);
      const doc = parseYaml(k8s.stdout) as {
        apiVersion: string;
        kind: string;
        status: { conditions: Condition[]; listeners: { name: string; attachedRoutes: number }[] };
      };
      assert.deepEqual([doc.apiVersion, doc.kind], ["gateway.networking.k8s.io/v1", "Gateway"], typed);
      assert.deepEqual(conditions(doc.status.conditions), ["Accepted=True/Accepted", "Programmed=True/Programmed"]);
      assert.deepEqual(
        doc.status.listeners.map((l) => [l.name, l.attachedRoutes]),
        [["http", 1]],
      );
    }
  });

  test("an unknown kind lists the Gateway API's names beside Istio's", async () => {
    const got = await runCli(["get", "gateways.example.com"], env);
    assert.equal(got.code, 2);
    assert.match(got.stderr, /; Gateway \(gateway, gateways, gw, gateway\.networking\.istio\.io, /);
    assert.match(got.stderr, /; Gateway of the Gateway API \(gtw, gateway\.gateway\.networking\.k8s\.io, /);
    assert.match(got.stderr, /; HTTPRoute \(httproute, httproutes, httproutes\.gateway\.networking\.k8s\.io\)/);
  });

  test("get httproute NAME -o yaml shows each parent's conditions with the spec's reasons", async () => {
    const got = await runCli(["get", "httproute", "shop", "-o", "yaml"], env);
    assert.equal(got.code, 0, got.stderr);
    const doc = parseYaml(got.stdout) as {
      kind: string;
      status: { parents: { parentRef: { sectionName?: string }; controllerName: string; conditions: Condition[] }[] };
    };
    assert.equal(doc.kind, "HTTPRoute");
    assert.deepEqual(
      doc.status.parents.map((p) => [p.parentRef.sectionName ?? "", p.controllerName, conditions(p.conditions)]),
      [
        ["", "istio.io/gateway-controller", ["Accepted=True/Accepted", "ResolvedRefs=False/BackendNotFound"]],
        [
          "https",
          "istio.io/gateway-controller",
          ["Accepted=False/NoMatchingParent", "ResolvedRefs=False/BackendNotFound"],
        ],
      ],
    );
    assert.equal(
      (doc.status.parents[0]!.conditions[1] as Condition & { message: string }).message,
      "spec.rules[0].backendRefs[1]: Service default/shop-v2 (shop-v2.default.svc.cluster.local) not found",
    );
  });

  test("what get -o yaml prints applies back unchanged", async () => {
    const got = await runCli(["get", "gtw", "edge", "-o", "yaml"], env);
    const again = join(dir, "again.yaml");
    writeFileSync(again, got.stdout);
    const applied = await runCli(["apply", "-f", again], env);
    assert.equal(applied.code, 0, applied.stderr);
    assert.equal(applied.stdout, "gateway.gateway.networking.k8s.io/edge (default) unchanged\n");
  });

  test("delete gtw leaves Istio's Gateway; delete -f tells the two apart by group", async () => {
    const del = await runCli(["delete", "gtw", "edge"], env);
    assert.equal(del.code, 0, del.stderr);
    assert.equal(del.stdout, "gateway.gateway.networking.k8s.io/edge (default) deleted\n");
    assert.equal((await runCli(["get", "gateway", "edge"], env)).code, 0);
    assert.equal((await runCli(["get", "gtw", "edge"], env)).code, 1);
    const delFile = await runCli(["delete", "-f", file, "--ignore-not-found"], env);
    assert.equal(delFile.code, 0, delFile.stderr);
    assert.equal(
      delFile.stdout,
      "gateway/edge (default) deleted\nhttproute/shop (default) deleted\nserviceentry/shop-v1 (default) deleted\n",
    );
  });
});
