// The one contract every ResourceStore meets, as tests registered for a factory: embedded.test.ts runs it in
// memory and with a data directory, etcd.test.ts against a real etcd. A new store passes this before anything
// else uses it (Hono's router tests work the same way).

import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { ResourceStore, StoredResource, WatchEvent } from "./types.ts";

export interface StoreUnderTest {
  store: ResourceStore;
  /** Closes the store and opens a new one on the same data (persistent stores only). */
  reopen?: () => Promise<ResourceStore>;
  /** Closes whatever the factory opened and removes its files. */
  cleanup: () => Promise<void>;
}

/** Each call must give an empty store, isolated from the others. */
export type StoreFactory = () => Promise<StoreUnderTest>;

export function resource(
  kind: string,
  name: string,
  spec: unknown = { hosts: [name] },
  namespace = "default",
): StoredResource {
  return { apiVersion: "networking.istio.io/v1", kind, metadata: { name, namespace, labels: { app: name } }, spec };
}

/** Collects a watch's events; `until` polls for a condition with a deadline instead of sleeping. */
export class EventLog {
  readonly events: WatchEvent[] = [];
  errors: Error[] = [];
  readonly push = (e: WatchEvent): void => void this.events.push(e);
  readonly onError = (e: Error): void => void this.errors.push(e);
  async until(cond: (events: WatchEvent[]) => boolean, limitMs = 5_000): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!cond(this.events)) {
      if (Date.now() > deadline)
        throw new Error(`watch condition not met in ${limitMs} ms; events: ${JSON.stringify(this.summary())}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  summary(): string[] {
    return this.events.map((e) => `${e.type} ${e.resource.kind}/${e.resource.metadata.name}@${e.revision}`);
  }
}

async function rejectsWithCode(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error: Error & { code?: string }) => {
    assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
    return true;
  });
}

export function registerStoreContract(name: string, factory: StoreFactory): void {
  describe(`ResourceStore contract: ${name}`, () => {
    let sut: StoreUnderTest;
    let store: ResourceStore;
    const open: StoreUnderTest[] = [];
    // Every test gets a fresh, empty store.
    const fresh = async (): Promise<ResourceStore> => {
      sut = await factory();
      open.push(sut);
      store = sut.store;
      return store;
    };
    after(async () => {
      for (const s of open) await s.cleanup();
    });

    it("put stores a resource and sets resourceVersion, uid and creationTimestamp; get returns it as put", async () => {
      await fresh();
      const spec = { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v1" } }] }] };
      const input = resource("VirtualService", "reviews", spec);
      input.metadata.annotations = { note: "x" };
      const stored = await store.put(input);
      assert.match(stored.metadata.resourceVersion!, /^[1-9][0-9]*$/);
      assert.ok(stored.metadata.uid);
      assert.ok(!Number.isNaN(Date.parse(stored.metadata.creationTimestamp!)));
      assert.deepEqual(stored.spec, spec);
      const got = await store.get({ kind: "VirtualService", namespace: "default", name: "reviews" });
      assert.deepEqual(got, stored);
      assert.equal(input.metadata.resourceVersion, undefined, "the caller's object is not changed");
      assert.equal(await store.get({ kind: "VirtualService", namespace: "default", name: "absent" }), undefined);
    });

    it("an update gets a higher resourceVersion and keeps uid and creationTimestamp", async () => {
      await fresh();
      const first = await store.put(resource("DestinationRule", "reviews", { host: "reviews" }));
      const second = await store.put(resource("DestinationRule", "reviews", { host: "reviews", subsets: [] }));
      assert.ok(Number(second.metadata.resourceVersion) > Number(first.metadata.resourceVersion));
      assert.equal(second.metadata.uid, first.metadata.uid);
      assert.equal(second.metadata.creationTimestamp, first.metadata.creationTimestamp);
      assert.equal(await store.revision(), second.metadata.resourceVersion);
    });

    it("list orders by kind, namespace, name and filters by kind, namespace, or both", async () => {
      await fresh();
      await store.put(resource("VirtualService", "b"));
      await store.put(resource("VirtualService", "a", {}, "prod"));
      await store.put(resource("DestinationRule", "z"));
      await store.put(resource("VirtualService", "a"));
      const names = (rs: StoredResource[]): string[] =>
        rs.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`);
      assert.deepEqual(names(await store.list()), [
        "DestinationRule/default/z",
        "VirtualService/default/a",
        "VirtualService/default/b",
        "VirtualService/prod/a",
      ]);
      assert.deepEqual(names(await store.list("VirtualService", "default")), [
        "VirtualService/default/a",
        "VirtualService/default/b",
      ]);
      assert.deepEqual(names(await store.list(undefined, "prod")), ["VirtualService/prod/a"]);
      assert.deepEqual(await store.list("Gateway"), []);
      const { resources, revision } = await store.listWithRevision();
      assert.equal(resources.length, 4);
      assert.equal(revision, await store.revision());
    });

    it("what a caller gets back is a copy: changing it changes nothing stored", async () => {
      await fresh();
      const stored = await store.put(resource("Gateway", "gw", { servers: [{ port: { number: 80 } }] }));
      (stored.spec as { servers: unknown[] }).servers.push("mutated");
      const listed = await store.list();
      (listed[0]!.spec as { servers: unknown[] }).servers.length = 0;
      const got = await store.get({ kind: "Gateway", namespace: "default", name: "gw" });
      assert.deepEqual(got!.spec, { servers: [{ port: { number: 80 } }] });
    });

    it("expectedVersion: a match writes, a mismatch is a ConflictError that changes nothing, '0' means create", async () => {
      await fresh();
      const created = await store.put(resource("ServiceEntry", "ext"), { expectedVersion: "0" });
      await rejectsWithCode(
        store.put(resource("ServiceEntry", "ext"), { expectedVersion: "0" }),
        "TRELLIS_STORE_CONFLICT",
      );
      const updated = await store.put(resource("ServiceEntry", "ext", { hosts: ["new"] }), {
        expectedVersion: created.metadata.resourceVersion!,
      });
      await rejectsWithCode(
        store.put(resource("ServiceEntry", "ext", { hosts: ["lost"] }), {
          expectedVersion: created.metadata.resourceVersion!,
        }),
        "TRELLIS_STORE_CONFLICT",
      );
      const got = await store.get({ kind: "ServiceEntry", namespace: "default", name: "ext" });
      assert.deepEqual(got!.spec, { hosts: ["new"] });
      assert.equal(got!.metadata.resourceVersion, updated.metadata.resourceVersion);
      await rejectsWithCode(
        store.put(resource("ServiceEntry", "ext"), { expectedVersion: "abc" }),
        "TRELLIS_STORE_INVALID",
      );
    });

    it("racing conditional writes on one version: exactly one wins", async () => {
      await fresh();
      const base = await store.put(resource("Sidecar", "default"));
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          store.put(resource("Sidecar", "default", { n: i }), { expectedVersion: base.metadata.resourceVersion! }),
        ),
      );
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      for (const r of results)
        if (r.status === "rejected") assert.equal((r.reason as { code: string }).code, "TRELLIS_STORE_CONFLICT");
    });

    it("concurrent writes to different resources all land, each at its own revision", async () => {
      await fresh();
      const stored = await Promise.all(
        Array.from({ length: 20 }, (_, i) => store.put(resource("WorkloadEntry", `w${i}`))),
      );
      assert.equal(new Set(stored.map((r) => r.metadata.resourceVersion)).size, 20);
      assert.equal((await store.list("WorkloadEntry")).length, 20);
    });

    it("delete: true when it existed, false when not; expectedVersion guards it", async () => {
      await fresh();
      const stored = await store.put(resource("PeerAuthentication", "default", { mtls: { mode: "STRICT" } }));
      const key = { kind: "PeerAuthentication", namespace: "default", name: "default" };
      await rejectsWithCode(
        store.delete(key, { expectedVersion: "1" + stored.metadata.resourceVersion! }),
        "TRELLIS_STORE_CONFLICT",
      );
      assert.ok(await store.get(key));
      assert.equal(await store.delete(key, { expectedVersion: stored.metadata.resourceVersion! }), true);
      assert.equal(await store.get(key), undefined);
      assert.equal(await store.delete(key), false);
      await rejectsWithCode(store.delete(key, { expectedVersion: "0" }), "TRELLIS_STORE_CONFLICT");
      await store.put(resource("PeerAuthentication", "default"));
      assert.equal(await store.delete(key), true);
    });

    it("applyAll stores every resource at one revision", async () => {
      await fresh();
      await store.put(resource("VirtualService", "reviews"));
      const stored = await store.applyAll([
        resource("VirtualService", "reviews", { hosts: ["reviews"], http: [] }),
        resource("DestinationRule", "reviews"),
        resource("Gateway", "gw", {}, "istio-system"),
      ]);
      assert.equal(stored.length, 3);
      assert.equal(new Set(stored.map((r) => r.metadata.resourceVersion)).size, 1);
      assert.equal(stored[0]!.metadata.resourceVersion, await store.revision());
      assert.equal((await store.list()).length, 3);
      assert.deepEqual(await store.applyAll([]), []);
    });

    it("applyAll is all or nothing: a bad resource or a repeated key stores none of them", async () => {
      await fresh();
      await store.put(resource("VirtualService", "keep", { v: 1 }));
      const before = await store.revision();
      const bad = resource("DestinationRule", "Not_A_Name");
      await rejectsWithCode(
        store.applyAll([resource("VirtualService", "keep", { v: 2 }), resource("Gateway", "gw"), bad]),
        "TRELLIS_STORE_INVALID",
      );
      await rejectsWithCode(
        store.applyAll([resource("Gateway", "gw"), resource("Gateway", "gw", { other: true })]),
        "TRELLIS_STORE_INVALID",
      );
      assert.equal(await store.revision(), before);
      assert.deepEqual(
        (await store.list()).map((r) => [r.metadata.name, r.spec]),
        [["keep", { v: 1 }]],
      );
    });

    it("bad input is refused with TRELLIS_STORE_INVALID and stores nothing", async () => {
      await fresh();
      const cases: unknown[] = [
        null,
        { apiVersion: "v1", kind: "VirtualService", spec: {} },
        { ...resource("VirtualService", "x"), apiVersion: 3 },
        resource("Virtual/Service", "x"),
        resource("VirtualService", "a/b"),
        resource("VirtualService", ""),
        resource("VirtualService", "x", {}, "../etc"),
        { ...resource("VirtualService", "x"), metadata: { name: "x", namespace: "default", labels: { a: 1 } } },
        resource("VirtualService", "x", { n: 10n }),
      ];
      for (const c of cases) await rejectsWithCode(store.put(c as StoredResource), "TRELLIS_STORE_INVALID");
      await rejectsWithCode(
        store.get({ kind: "VirtualService", namespace: "default", name: "A B" }),
        "TRELLIS_STORE_INVALID",
      );
      await rejectsWithCode(store.list("bad kind"), "TRELLIS_STORE_INVALID");
      assert.deepEqual(await store.list(), []);
    });

    it("watch delivers ADDED, MODIFIED, DELETED in revision order, with the resource", async () => {
      await fresh();
      const log = new EventLog();
      const watch = store.watch(log.push, { onError: log.onError });
      await settleWatch(store, log);
      const a = await store.put(resource("VirtualService", "a"));
      const a2 = await store.put(resource("VirtualService", "a", { hosts: ["a2"] }));
      await store.applyAll([resource("DestinationRule", "b"), resource("Gateway", "c")]);
      await store.delete({ kind: "VirtualService", namespace: "default", name: "a" });
      await log.until((es) => es.length >= 5);
      watch.close();
      assert.deepEqual(log.summary().slice(0, 2), [
        `ADDED VirtualService/a@${a.metadata.resourceVersion}`,
        `MODIFIED VirtualService/a@${a2.metadata.resourceVersion}`,
      ]);
      assert.deepEqual(
        log.events.map((e) => e.type),
        ["ADDED", "MODIFIED", "ADDED", "ADDED", "DELETED"],
      );
      assert.equal(log.events[2]!.revision, log.events[3]!.revision, "one applyAll, one revision");
      const revisions = log.events.map((e) => Number(e.revision));
      assert.deepEqual(
        revisions,
        [...revisions].sort((x, y) => x - y),
      );
      assert.deepEqual(log.events[1]!.resource.spec, { hosts: ["a2"] });
      const deleted = log.events[4]!;
      assert.equal(deleted.resource.metadata.name, "a");
      assert.deepEqual(deleted.resource.spec, { hosts: ["a2"] }, "DELETED carries the last state");
      assert.equal(deleted.resource.metadata.resourceVersion, deleted.revision);
      assert.deepEqual(log.errors, []);
    });

    it("watch with kind sees only that kind; a closed watch sees nothing more", async () => {
      await fresh();
      const rules = new EventLog();
      const all = new EventLog();
      const watch = store.watch(rules.push, { kind: "DestinationRule" });
      const closed = store.watch(all.push);
      closed.close();
      await settleWatch(store, rules, "DestinationRule");
      await store.put(resource("VirtualService", "vs"));
      await store.put(resource("DestinationRule", "dr"));
      await rules.until((es) => es.some((e) => e.resource.metadata.name === "dr"));
      watch.close();
      assert.deepEqual(
        rules.summary().map((s) => s.split("@")[0]),
        ["ADDED DestinationRule/dr"],
      );
      assert.deepEqual(all.events, []);
    });

    it("list at revision R, then watch fromVersion R: every later change exactly once, none before", async () => {
      await fresh();
      await store.put(resource("VirtualService", "before"));
      const { revision } = await store.listWithRevision();
      await store.put(resource("VirtualService", "after1"));
      await store.delete({ kind: "VirtualService", namespace: "default", name: "before" });
      const log = new EventLog();
      const watch = store.watch(log.push, { fromVersion: revision, onError: log.onError });
      await store.put(resource("VirtualService", "after2"));
      await log.until((es) => es.length >= 3);
      // Give a duplicate the chance to show up: write once more and wait for that event.
      await store.put(resource("VirtualService", "after3"));
      await log.until((es) => es.some((e) => e.resource.metadata.name === "after3"));
      watch.close();
      assert.deepEqual(
        log.summary().map((s) => s.split("@")[0]),
        [
          "ADDED VirtualService/after1",
          "DELETED VirtualService/before",
          "ADDED VirtualService/after2",
          "ADDED VirtualService/after3",
        ],
      );
      assert.deepEqual(log.errors, []);
    });

    it("the revision only grows: every write moves it, failed writes do not", async () => {
      await fresh();
      const r0 = Number(await store.revision());
      const a = await store.put(resource("Telemetry", "t"));
      assert.ok(Number(a.metadata.resourceVersion) > r0);
      await rejectsWithCode(store.put(resource("Telemetry", "t"), { expectedVersion: "0" }), "TRELLIS_STORE_CONFLICT");
      const r1 = Number(await store.revision());
      const b = await store.put(resource("Telemetry", "t2"));
      assert.ok(Number(b.metadata.resourceVersion) > r1);
    });

    it("after close, calls fail with TRELLIS_STORE_CLOSED", async () => {
      await fresh();
      await store.close();
      await rejectsWithCode(store.list(), "TRELLIS_STORE_CLOSED");
      await rejectsWithCode(store.put(resource("Gateway", "gw")), "TRELLIS_STORE_CLOSED");
    });

    it("a reopened store has every write, at the same versions, and goes on from its revision", async (t) => {
      await fresh();
      if (!sut.reopen) return t.skip("this factory has no reopen: the store lives in memory only");
      await store.put(resource("VirtualService", "a"));
      await store.applyAll([resource("VirtualService", "b"), resource("DestinationRule", "c")]);
      await store.put(resource("VirtualService", "a", { hosts: ["changed"] }));
      await store.delete({ kind: "DestinationRule", namespace: "default", name: "c" });
      const before = await store.listWithRevision();
      store = await sut.reopen();
      const after = await store.listWithRevision();
      assert.deepEqual(after, before);
      const next = await store.put(resource("Gateway", "gw"));
      assert.ok(Number(next.metadata.resourceVersion) > Number(before.revision));
    });
  });
}

/**
 * Waits until a fresh watch is live (etcd attaches it asynchronously, and a write made before it is attached is
 * never delivered): writes a probe resource — again, with new content, every half second until one of its events
 * arrives (on a loaded machine attaching can take longer than the first write) — then deletes the probe, waits
 * for that too, and clears the log.
 */
export async function settleWatch(store: ResourceStore, log: EventLog, kind = "WatchProbe"): Promise<void> {
  const deadline = Date.now() + 30_000;
  const seen = (es: WatchEvent[]) => es.some((e) => e.resource.metadata.name === "watch-probe" && e.type !== "DELETED");
  for (let attempt = 0; ; attempt++) {
    await store.put(resource(kind, "watch-probe", { hosts: [`attempt-${attempt}`] }));
    try {
      await log.until(seen, 500);
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
  await store.delete({ kind, namespace: "default", name: "watch-probe" });
  await log.until((es) => es.some((e) => e.resource.metadata.name === "watch-probe" && e.type === "DELETED"), 10_000);
  log.events.length = 0;
}
