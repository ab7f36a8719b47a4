// Two control-plane replicas on one etcd: a resource applied through one is served by the other, a workload
// registered with one is known to the other, and a sidecar of each sees the same configuration.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { ControlPlane } from "../src/control/control-plane.ts";
import { createStore } from "../src/control/store/create.ts";
import type { ResourceStore } from "../src/control/store/types.ts";
import { EtcdCluster, etcdSkipReason } from "./support/etcd.ts";
import { waitFor } from "./support/wait.ts";

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings }
spec:
  hosts: [ratings]
  http:
  - route:
    - destination: { host: ratings }
`;

describe("control-plane replicas sharing one etcd", { skip: etcdSkipReason }, () => {
  let cluster: EtcdCluster;
  const stores: ResourceStore[] = [];
  const planes: ControlPlane[] = [];
  before(async () => {
    cluster = await EtcdCluster.start(1);
    for (let i = 0; i < 2; i++) {
      const store = await createStore(cluster.url, undefined);
      stores.push(store);
      const cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, debounceMs: 20, log: () => {} });
      await cp.start();
      planes.push(cp);
    }
  });
  after(async () => {
    for (const cp of planes) await cp.stop();
    for (const s of stores) await s.close();
    await cluster?.stop();
  });

  const api = async (cp: ControlPlane, method: string, path: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${cp.apiPort}${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  };

  test("a resource applied through one replica is served by the other", async () => {
    const [a, b] = planes as [ControlPlane, ControlPlane];
    const applied = await api(a, "POST", "/api/v1/apply", { files: [{ name: "ratings.yaml", content: VS }] });
    assert.equal(applied.status, 200, JSON.stringify(applied.json));
    const deadline = Date.now() + 5_000;
    let got = await api(b, "GET", "/api/v1/resources/VirtualService/default/ratings");
    while (got.status !== 200 && Date.now() < deadline)
      got = await api(b, "GET", "/api/v1/resources/VirtualService/default/ratings");
    assert.equal(got.status, 200);
  });

  test("a workload registered with one replica is known to the other, and its removal too", async () => {
    const [a, b] = planes as [ControlPlane, ControlPlane];
    const reg = await api(a, "POST", "/api/v1/registry/instances", {
      service: "ratings",
      address: "127.0.0.1",
      labels: { version: "v1" },
      ports: [{ name: "http", number: 9080, protocol: "HTTP", sidecarPort: 15006 }],
    });
    assert.equal(reg.status, 200);
    await waitFor(() => b.registry.list().length === 1, 5_000);
    // A heartbeat may reach either replica.
    const id = encodeURIComponent(String(reg.json.id));
    assert.equal((await api(b, "PUT", `/api/v1/registry/instances/${id}/heartbeat`)).status, 200);
    assert.equal((await api(b, "DELETE", `/api/v1/registry/instances/${id}`)).status, 200);
    await waitFor(() => a.registry.list().length === 0, 5_000);
  });
});
