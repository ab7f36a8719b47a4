// createStore: which store a `--store` URL and `--data-dir` give, and a clear error for anything else.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { it } from "node:test";
import { createStore, parseEtcdUrl } from "./create.ts";
import { EmbeddedStore } from "./embedded/store.ts";

it("parses etcd://host:port[,host:port…]", () => {
  assert.deepEqual(parseEtcdUrl("etcd://127.0.0.1:2379"), ["127.0.0.1:2379"]);
  assert.deepEqual(parseEtcdUrl("etcd://127.0.0.1:2379,127.0.0.1:22379,etcd-2.local:32379/"), [
    "127.0.0.1:2379",
    "127.0.0.1:22379",
    "etcd-2.local:32379",
  ]);
  assert.deepEqual(parseEtcdUrl("etcd://[::1]:2379"), ["[::1]:2379"]);
});

it("refuses anything else with TRELLIS_STORE_URL, naming what was expected", () => {
  for (const bad of [
    "http://127.0.0.1:2379",
    "etcd://",
    "etcd://127.0.0.1",
    "etcd://127.0.0.1:0",
    "etcd://127.0.0.1:99999",
    "etcd://127.0.0.1:2379,,127.0.0.1:2380",
    "etcd://user@127.0.0.1:2379",
    "etcd://127.0.0.1:2379/path",
    "consul://x:1",
  ])
    assert.throws(
      () => parseEtcdUrl(bad),
      (e: Error & { code?: string }) => e.code === "TRELLIS_STORE_URL" && /etcd:\/\/HOST:PORT/.test(e.message),
      bad,
    );
});

it("no URL: the embedded store, in memory or under the data directory", async () => {
  const memory = await createStore(undefined, undefined);
  assert.ok(memory instanceof EmbeddedStore);
  await memory.close();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "trellis-create-"));
  try {
    const persisted = await createStore(undefined, dir);
    await persisted.put({
      apiVersion: "v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: "default" },
      spec: {},
    });
    await persisted.close();
    assert.ok(fs.existsSync(path.join(dir, "log")));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  await assert.rejects(createStore("zookeeper://x:1", undefined), { code: "TRELLIS_STORE_URL" });
});
