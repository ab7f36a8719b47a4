// The embedded store: the shared contract in memory and with a data directory, plus what only it does (its files,
// torn tails, compaction, the lock). Crash safety under kill -9 is test/store-crash.test.ts.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { ManualClock } from "../../../api/clock.ts";
import { registerStoreContract, resource } from "../contract.ts";
import { EmbeddedStore } from "./store.ts";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "trellis-store-"));
}

registerStoreContract("embedded, in memory", async () => {
  const store = await EmbeddedStore.open();
  return { store, cleanup: () => store.close() };
});

registerStoreContract("embedded, with a data directory", async () => {
  const dir = tempDir();
  let store = await EmbeddedStore.open({ dataDir: dir });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await EmbeddedStore.open({ dataDir: dir });
      return store;
    },
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

registerStoreContract("embedded, compacting after every write", async () => {
  const dir = tempDir();
  let store = await EmbeddedStore.open({ dataDir: dir, compactAfterBytes: 1 });
  return {
    store,
    reopen: async () => {
      await store.close();
      store = await EmbeddedStore.open({ dataDir: dir, compactAfterBytes: 1 });
      return store;
    },
    cleanup: async () => {
      await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

describe("embedded store on disk", () => {
  it("stamps creationTimestamp from the injected clock", async () => {
    const clock = new ManualClock(0, Date.UTC(2024, 0, 2, 3, 4, 5));
    const store = await EmbeddedStore.open({ clock });
    const stored = await store.put(resource("VirtualService", "a"));
    assert.equal(stored.metadata.creationTimestamp, "2024-01-02T03:04:05.000Z");
    await store.close();
  });

  it("drops a torn last record (a write that was never acknowledged) and appends after it", async () => {
    const dir = tempDir();
    try {
      const store = await EmbeddedStore.open({ dataDir: dir });
      await store.put(resource("VirtualService", "a"));
      await store.put(resource("VirtualService", "b"));
      await store.close();
      const log = path.join(dir, "log");
      const size = fs.statSync(log).size;
      fs.truncateSync(log, size - 5); // the last record lost its end
      let reopened = await EmbeddedStore.open({ dataDir: dir });
      assert.deepEqual(
        (await reopened.list()).map((r) => r.metadata.name),
        ["a"],
      );
      await reopened.put(resource("VirtualService", "c"));
      await reopened.close();
      reopened = await EmbeddedStore.open({ dataDir: dir });
      assert.deepEqual(
        (await reopened.list()).map((r) => r.metadata.name),
        ["a", "c"],
      );
      await reopened.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses to open over damage in the middle of the log instead of dropping later writes", async () => {
    const dir = tempDir();
    try {
      const store = await EmbeddedStore.open({ dataDir: dir });
      await store.put(resource("VirtualService", "a"));
      await store.put(resource("VirtualService", "b"));
      await store.close();
      const log = path.join(dir, "log");
      const bytes = fs.readFileSync(log);
      bytes[12] = bytes[12]! ^ 0xff; // inside the first record's payload
      fs.writeFileSync(log, bytes);
      await assert.rejects(EmbeddedStore.open({ dataDir: dir }), { code: "TRELLIS_STORE_CORRUPT" });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("compaction folds the log into the snapshot; a crash between snapshot and new log loses nothing", async () => {
    const dir = tempDir();
    try {
      const store = await EmbeddedStore.open({ dataDir: dir, compactAfterBytes: 400 });
      for (let i = 0; i < 20; i++) await store.put(resource("VirtualService", `vs${i}`));
      await store.close();
      assert.ok(fs.statSync(path.join(dir, "log")).size < 400 + 400);
      assert.ok(fs.existsSync(path.join(dir, "snapshot")));
      // A crash after the snapshot's rename but before the new log: the old log's records are all in the
      // snapshot. Simulate by putting back a log whose records the snapshot already holds.
      const old = await EmbeddedStore.open({ dataDir: dir, compactAfterBytes: 1e9 });
      await old.put(resource("VirtualService", "extra"));
      await old.close();
      const logWithExtra = fs.readFileSync(path.join(dir, "log"));
      const compacting = await EmbeddedStore.open({ dataDir: dir, compactAfterBytes: 1 });
      await compacting.put(resource("VirtualService", "last"));
      await compacting.close();
      fs.writeFileSync(path.join(dir, "log"), logWithExtra);
      const reopened = await EmbeddedStore.open({ dataDir: dir });
      const names = (await reopened.list()).map((r) => r.metadata.name);
      assert.equal(names.length, 22);
      assert.ok(names.includes("extra") && names.includes("last"));
      await reopened.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("one process per data directory; a lock left by a dead process is taken over", async () => {
    const dir = tempDir();
    try {
      const store = await EmbeddedStore.open({ dataDir: dir });
      await assert.rejects(EmbeddedStore.open({ dataDir: dir }), { code: "TRELLIS_STORE_LOCKED" });
      await store.close();
      fs.writeFileSync(path.join(dir, "lock"), "999999999"); // no such process
      const again = await EmbeddedStore.open({ dataDir: dir });
      await again.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a watch from a revision older than the kept history fails with TRELLIS_STORE_COMPACTED", async () => {
    const store = await EmbeddedStore.open({ historyLimit: 2 });
    for (let i = 0; i < 5; i++) await store.put(resource("VirtualService", `vs${i}`));
    const error = await new Promise<Error>((resolve) =>
      store.watch(() => undefined, { fromVersion: "1", onError: resolve }),
    );
    assert.equal((error as { code?: string }).code, "TRELLIS_STORE_COMPACTED");
    const events: string[] = [];
    store.watch((e) => events.push(e.resource.metadata.name), { fromVersion: "3" });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events, ["vs3", "vs4"]);
    await store.close();
  });
});
