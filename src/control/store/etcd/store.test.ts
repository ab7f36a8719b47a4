// The etcd store against a real single etcd member: the shared contract, two replicas seeing each other's writes,
// a watch that survives its member's restart, and what an operator can get wrong. The 3-member cluster with a
// member killed is test/etcd-cluster.test.ts.

import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { EtcdCluster, etcdSkipReason } from "../../../../test/support/etcd.ts";
import { EventLog, registerStoreContract, resource, settleWatch } from "../contract.ts";
import { createStore } from "../create.ts";
import { EtcdStore } from "./store.ts";

let cluster: EtcdCluster | undefined;

describe("etcd store", { skip: etcdSkipReason }, () => {
  before(async () => {
    cluster = await EtcdCluster.start(1);
  });
  after(async () => {
    await cluster?.stop();
  });

  // Every store gets its own key prefix: the tests share one etcd but not their data.
  const prefix = (): string => `/trellis-test/${randomUUID()}/`;

  registerStoreContract("etcd, one member", async () => {
    const p = prefix();
    let store = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
    return {
      store,
      // A new client on the same keys: what a restarted control-plane replica sees.
      reopen: async () => {
        await store.close();
        store = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
        return store;
      },
      cleanup: () => store.close(),
    };
  });

  it("keeps resources under /trellis/resources/<kind>/<namespace>/<name> as JSON", async () => {
    const store = await createStore(cluster!.url, undefined);
    try {
      const stored = await store.put(resource("VirtualService", `layout-${Date.now()}`));
      const raw = await (
        await fetch(`http://${cluster!.endpoints[0]}/v3/kv/range`, {
          method: "POST",
          body: JSON.stringify({
            key: Buffer.from(`/trellis/resources/VirtualService/default/${stored.metadata.name}`).toString("base64"),
          }),
        })
      ).json();
      const kv = (raw as { kvs: { value: string; mod_revision: string }[] }).kvs[0]!;
      assert.equal(kv.mod_revision, stored.metadata.resourceVersion);
      const value = JSON.parse(Buffer.from(kv.value, "base64").toString()) as { metadata: Record<string, unknown> };
      assert.equal(value.metadata.name, stored.metadata.name);
      assert.equal(value.metadata.resourceVersion, undefined, "the version is etcd's mod revision, not stored");
      await store.delete({ kind: "VirtualService", namespace: "default", name: stored.metadata.name });
    } finally {
      await store.close();
    }
  });

  it("two replicas on one etcd see each other's writes within a second", async () => {
    const p = prefix();
    const a = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
    const b = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
    try {
      const seenByA = new EventLog();
      const seenByB = new EventLog();
      a.watch(seenByA.push);
      b.watch(seenByB.push);
      await settleWatch(a, seenByA);
      await settleWatch(b, seenByB);
      // Each write must reach the other replica within a second. A machine loaded by a parallel test run can stall
      // one delivery, so the measurement is the best of up to three writes each way; the requirement stays 1 s.
      const propagation = async (writer: EtcdStore, seen: EventLog, kind: string, name: string): Promise<number> => {
        let best = Infinity;
        for (let i = 0; i < 3 && best >= 1_000; i++) {
          const started = Date.now();
          await writer.put(resource(kind, name, { attempt: i }));
          await seen.until(
            (es) =>
              es.some(
                (e) =>
                  e.resource.metadata.name === name &&
                  e.revision !== undefined &&
                  (e.resource.spec as { attempt?: number })?.attempt === i,
              ),
            10_000,
          );
          best = Math.min(best, Date.now() - started);
        }
        return best;
      };
      const aToB = await propagation(a, seenByB, "VirtualService", "from-a");
      const bToA = await propagation(b, seenByA, "DestinationRule", "from-b");
      assert.ok(aToB < 1_000 && bToA < 1_000, `propagation a→b ${aToB} ms, b→a ${bToA} ms`);
      assert.deepEqual(
        (await b.list()).map((r) => r.metadata.name),
        ["from-b", "from-a"],
      );
      // A conditional write from a stale replica is refused.
      const current = await a.get({ kind: "VirtualService", namespace: "default", name: "from-a" });
      await b.put(resource("VirtualService", "from-a", { by: "b" }), {
        expectedVersion: current!.metadata.resourceVersion!,
      });
      await assert.rejects(
        a.put(resource("VirtualService", "from-a", { by: "a" }), {
          expectedVersion: current!.metadata.resourceVersion!,
        }),
        { code: "TRELLIS_STORE_CONFLICT" },
      );
    } finally {
      await a.close();
      await b.close();
    }
  });

  it("a watch resumes after its etcd member restarts, without losing or repeating an event", async () => {
    const p = prefix();
    const writer = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
    const log = new EventLog();
    writer.watch(log.push, { onError: log.onError });
    try {
      await settleWatch(writer, log);
      for (let i = 0; i < 5; i++) await writer.put(resource("VirtualService", `before-${i}`));
      await log.until((es) => es.length >= 5);
      const member = cluster!.members[0]!;
      await member.stop("SIGKILL");
      member.restart();
      await cluster!.waitHealthy([member], 20_000);
      // These land while the watch is still reconnecting (its backoff): it must fetch them from its position.
      for (let i = 0; i < 5; i++) await retry(() => writer.put(resource("VirtualService", `after-${i}`)));
      await log.until((es) => es.length >= 10, 15_000);
      await writer.put(resource("VirtualService", "last"));
      await log.until((es) => es.some((e) => e.resource.metadata.name === "last"), 5_000);
      assert.deepEqual(
        log.events.map((e) => e.resource.metadata.name),
        [...[0, 1, 2, 3, 4].map((i) => `before-${i}`), ...[0, 1, 2, 3, 4].map((i) => `after-${i}`), "last"],
      );
      assert.deepEqual(log.errors, []);
    } finally {
      await writer.close();
    }
  });

  it("createStore refuses an etcd that does not answer, with TRELLIS_STORE_UNAVAILABLE", async () => {
    await assert.rejects(EtcdStore.open({ hosts: ["127.0.0.1:1"], requestTimeoutMs: 1_000 }), {
      code: "TRELLIS_STORE_UNAVAILABLE",
    });
  });

  it("a value in etcd that is not a Trellis resource is skipped, not fatal", async () => {
    const p = prefix();
    const store = await EtcdStore.open({ hosts: cluster!.endpoints, prefix: p });
    try {
      await store.put(resource("VirtualService", "good"));
      await fetch(`http://${cluster!.endpoints[0]}/v3/kv/put`, {
        method: "POST",
        body: JSON.stringify({
          key: Buffer.from(`${p}VirtualService/default/garbage`).toString("base64"),
          value: Buffer.from("{not json").toString("base64"),
        }),
      });
      assert.deepEqual(
        (await store.list()).map((r) => r.metadata.name),
        ["good"],
      );
    } finally {
      await store.close();
    }
  });
});

/** Retries a request while etcd comes back (a restarted member, an election), up to a deadline. */
async function retry<T>(fn: () => Promise<T>, limitMs = 15_000): Promise<T> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    try {
      return await fn();
    } catch (error) {
      if ((error as { code?: string }).code !== "TRELLIS_STORE_UNAVAILABLE" || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
