// analyze and apply against the real control plane (in-process, HTTP API on 127.0.0.1 port 0), with files as
// Istio's samples write them: Kubernetes objects beside the Istio resources are set aside with one warning each on
// apply; analyze reads the files' Services as hosts, reports a bad document as a finding and analyzes the rest.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../src/control/control-plane.ts";
import { EmbeddedStore } from "../src/control/store/embedded/store.ts";
import type { Finding } from "../src/control/analyze/messages.ts";
import { readInputs } from "../src/cli/files.ts";

const BOOKINFO = `apiVersion: v1
kind: Service
metadata:
  name: reviews
spec:
  ports:
  - port: 9080
    name: http
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: reviews-v1
spec:
  replicas: 1
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  subsets:
  - name: v1
    labels:
      version: v1
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
spec:
  hosts:
  - reviews
  http:
  - route:
    - destination:
        host: reviews
        subset: v1
`;

describe("apply and analyze on the control plane, with Kubernetes objects in the files", () => {
  let store: EmbeddedStore;
  let cp: ControlPlane;
  before(async () => {
    store = await EmbeddedStore.open();
    cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 10, log: () => {} });
    await cp.start();
  });
  after(async () => {
    await cp.stop();
    await store.close();
  });

  const api = async (path: string, body: unknown) => {
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };
  // The one note about the mesh as a whole (Info: TCP to hosts outside the mesh is not passed through before traffic
  // capture) is in every live analysis; these tests look at the rest.
  const meshNote = (f: Finding) => f.resource === "mesh" && f.level === "Info" && f.code === "TRL0002";
  const ofResources = (json: Record<string, unknown>) => {
    const all = json.findings as Finding[];
    assert.equal(all.filter(meshNote).length, 1, JSON.stringify(all));
    return all.filter((f) => !meshNote(f));
  };
  const codes = (json: Record<string, unknown>) =>
    ofResources(json).map((f) => [f.level, f.code, f.resource, f.file ?? null, f.line ?? null]);

  test("apply stores the Istio resources and skips each Kubernetes object with one warning", async () => {
    const applied = await api("/api/v1/apply", { files: [{ name: "bookinfo.yaml", content: BOOKINFO }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    assert.deepEqual(applied.json.warnings, [
      "bookinfo.yaml:1: document 0 (Service/default/reviews): a Kubernetes Service (v1), not an Istio resource: skipped",
      "bookinfo.yaml:10: document 1 (Deployment/default/reviews-v1): a Kubernetes Deployment (apps/v1), not an Istio resource: skipped",
    ]);
    assert.equal((applied.json.results as unknown[]).length, 2);
  });

  test("analyze with the file: its Service is a host the mesh knows; nothing to report", async () => {
    const r = await api("/api/v1/analyze", { files: [{ name: "bookinfo.yaml", content: BOOKINFO }] });
    assert.equal(r.status, 200);
    assert.deepEqual(ofResources(r.json), []);
    assert.deepEqual(r.json.notices, [
      "bookinfo.yaml:10: Deployment default/reviews-v1 is a Kubernetes object, not an Istio resource: not analyzed",
    ]);
  });

  test("analyze without files: no service named reviews runs, so the stored rules route nowhere", async () => {
    const r = await api("/api/v1/analyze", {});
    assert.deepEqual(codes(r.json), [
      ["Warning", "IST0174", "DestinationRule/default/reviews", null, null],
      ["Error", "IST0101", "VirtualService/default/reviews", null, null],
    ]);
  });

  test("a bad document is a finding with its file and line; the other documents are still analyzed", async () => {
    const bad = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: broken
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews}
      weight: -1
`;
    const r = await api("/api/v1/analyze", {
      files: [
        { name: "bookinfo.yaml", content: BOOKINFO },
        { name: "broken.yaml", content: bad },
      ],
    });
    assert.equal(r.status, 200);
    assert.deepEqual(codes(r.json), [["Error", "IST0106", "VirtualService/default/broken", "broken.yaml", 10]]);
    const garbage = await api("/api/v1/analyze", { files: "nope" });
    assert.equal(garbage.status, 400);
  });
});

describe("-f DIR", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "trellis-files-"));
    mkdirSync(join(dir, "networking"));
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, "b.yaml"), "b");
    writeFileSync(join(dir, "a.json"), "a");
    writeFileSync(join(dir, "notes.txt"), "not read");
    writeFileSync(join(dir, "networking", "c.yml"), "c");
    writeFileSync(join(dir, ".git", "d.yaml"), "d");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("apply reads the directory itself (kubectl apply -f DIR); analyze its subdirectories too (istioctl)", () => {
    assert.deepEqual(
      readInputs(dir).map((f) => f.content),
      ["a", "b"],
    );
    assert.deepEqual(
      readInputs(dir, undefined, { recursive: true }).map((f) => [f.name.slice(dir.length + 1), f.content]),
      [
        ["a.json", "a"],
        ["b.yaml", "b"],
        [join("networking", "c.yml"), "c"],
      ],
    );
  });
});
