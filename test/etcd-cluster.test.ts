// The etcd store on a real 3-member cluster (free loopback ports, its own data directories): SIGKILL a follower,
// then (with it back) SIGKILL the leader; writes, reads and a watch opened before the kills go on, and the watch
// sees every write exactly once, in order. Two replicas are two stores on the same cluster.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { EventLog, resource, settleWatch } from "../src/control/store/contract.ts";
import { createStore } from "../src/control/store/create.ts";
import type { ResourceStore } from "../src/control/store/types.ts";
import { EtcdCluster, etcdSkipReason } from "./support/etcd.ts";

/** Retries while the cluster elects a leader (about 2 s after a SIGKILLed leader, NOTES.md), up to a deadline. */
async function whileElecting<T>(fn: () => Promise<T>, limitMs = 20_000): Promise<T> {
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

describe("etcd store on a 3-member cluster", { skip: etcdSkipReason }, () => {
  let cluster: EtcdCluster;
  let replicaA: ResourceStore;
  let replicaB: ResourceStore;
  const seenByB = new EventLog();
  const written: string[] = [];

  before(async () => {
    cluster = await EtcdCluster.start(3);
    replicaA = await createStore(cluster.url, undefined);
    replicaB = await createStore(cluster.url, undefined);
    replicaB.watch(seenByB.push, { onError: seenByB.onError });
    await settleWatch(replicaB, seenByB);
  });
  after(async () => {
    await replicaA?.close();
    await replicaB?.close();
    await cluster?.stop();
  });

  async function writeAndCheck(label: string): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const name = `${label}-${i}`;
      await whileElecting(() => replicaA.put(resource("VirtualService", name)));
      written.push(name);
    }
    const fromB = await whileElecting(() =>
      replicaB.get({ kind: "VirtualService", namespace: "default", name: `${label}-2` }),
    );
    assert.ok(fromB, `replica B reads ${label}-2`);
    await seenByB.until((es) => es.length >= written.length, 15_000);
    assert.deepEqual(
      seenByB.events.map((e) => e.resource.metadata.name),
      written,
      "replica B's watch saw every write once, in order",
    );
    assert.deepEqual(seenByB.errors, []);
  }

  it("all members up: replicas see each other's writes", async () => {
    await writeAndCheck("healthy");
  });

  it("a follower SIGKILLed: writes, reads and the watch go on", async () => {
    const follower = await cluster.follower();
    await follower.stop("SIGKILL");
    await writeAndCheck("no-follower");
    follower.restart();
    await cluster.waitHealthy([follower], 20_000);
  });

  it("the leader SIGKILLed: after the election, writes, reads and the watch go on", async () => {
    const leader = await cluster.leader();
    await leader.stop("SIGKILL");
    const started = Date.now();
    await writeAndCheck("no-leader");
    assert.ok(Date.now() - started < 20_000);
    assert.deepEqual((await replicaB.list("VirtualService")).map((r) => r.metadata.name).sort(), [...written].sort());
  });
});
