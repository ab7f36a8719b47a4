// The address API on a real control plane: leases over HTTP, kept across a restart (the embedded store), released
// when the instance registered with the same node id deregisters.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ControlPlane } from "../control-plane.ts";
import { EmbeddedStore } from "../store/embedded/store.ts";

async function call(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test("POST /api/v1/addresses: a lease per node id, kept across a restart, released with the instance", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "trellis-addresses-"));
  const start = async (): Promise<{ cp: ControlPlane; store: EmbeddedStore }> => {
    const store = await EmbeddedStore.open({ dataDir });
    const cp = new ControlPlane({ store, xdsPort: 0, apiPort: 0, addressRange: "10.77.0.0/24", log: () => {} });
    await cp.start();
    return { cp, store };
  };
  let { cp, store } = await start();
  try {
    const bad = await call(cp.apiPort, "POST", "/api/v1/addresses", { node: "x" });
    assert.equal(bad.status, 400);
    assert.match(String((bad.json.errors as string[])[0]), /^nodeId: expected/);
    const a = await call(cp.apiPort, "POST", "/api/v1/addresses", { nodeId: "a-1.default" });
    assert.equal(a.status, 200);
    assert.deepEqual(
      [a.json.address, a.json.prefixLength, a.json.gateway, a.json.bridge],
      ["10.77.0.2", 24, "10.77.0.1", "trellis0"],
    );
    const b = await call(cp.apiPort, "POST", "/api/v1/addresses", { nodeId: "b-1.default" });
    assert.equal(b.json.address, "10.77.0.3");
    // Stored as they are made (asynchronously): both are in the store before the restart.
    for (let i = 0; i < 200 && (await store.list("AddressLease")).length < 2; i++)
      await new Promise((r) => setTimeout(r, 10));
    assert.equal((await store.list("AddressLease")).length, 2);
    await cp.stop();
    await store.close();
    ({ cp, store } = await start());
    const c = await call(cp.apiPort, "POST", "/api/v1/addresses", { nodeId: "c-1.default" });
    assert.equal(c.json.address, "10.77.0.4", "the leases made before the restart are still taken");
    // An instance registered with b's node id: its deregistration releases b's address.
    const reg = await call(cp.apiPort, "POST", "/api/v1/registry/instances", {
      service: "b",
      address: "127.0.0.3",
      nodeId: "b-1.default",
      ports: [{ number: 8080, protocol: "HTTP" }],
    });
    assert.equal(reg.status, 200, JSON.stringify(reg.json));
    const id = encodeURIComponent(String(reg.json.id));
    assert.equal((await call(cp.apiPort, "DELETE", `/api/v1/registry/instances/${id}`)).status, 200);
    const listed = await call(cp.apiPort, "GET", "/api/v1/addresses");
    assert.equal(listed.json.range, "10.77.0.0/24");
    assert.deepEqual(
      (listed.json.leases as { address: string }[]).map((l) => l.address),
      ["10.77.0.2", "10.77.0.4"],
    );
    assert.equal((await call(cp.apiPort, "DELETE", "/api/v1/addresses/10.77.0.2")).status, 200);
    assert.equal((await call(cp.apiPort, "DELETE", "/api/v1/addresses/10.77.0.2")).status, 404);
  } finally {
    await cp.stop();
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
