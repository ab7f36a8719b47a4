import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import { Registry } from "../registry/registry.ts";
import { addRegistryRoutes } from "./registry-api.ts";
import { startApiServer } from "./server.ts";

async function call(port: number, method: string, path: string, body?: unknown) {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

test("register, heartbeat, list, lease expiry and deregister over HTTP", async () => {
  const clock = new ManualClock();
  const registry = new Registry({ clock, leaseMs: 30_000, sweepIntervalMs: 1_000 });
  registry.start();
  const api = await startApiServer("127.0.0.1", 0);
  const prober = addRegistryRoutes(api.router, registry, { clock });
  try {
    const bad = await call(api.port, "POST", "/api/v1/registry/instances", { service: "x" });
    assert.equal(bad.status, 400);
    assert.match(String((bad.json.errors as string[])[0]), /address: expected an IP address/);
    const reg = await call(api.port, "POST", "/api/v1/registry/instances", {
      service: "ratings",
      address: "127.0.0.1",
      labels: { version: "v1" },
      ports: [{ number: 9080, protocol: "HTTP", sidecarPort: 15006 }],
    });
    assert.equal(reg.status, 200);
    const id = encodeURIComponent(String(reg.json.id));
    assert.equal((await call(api.port, "PUT", `/api/v1/registry/instances/${id}/heartbeat`)).status, 200);
    const listed = await call(api.port, "GET", "/api/v1/registry/instances");
    assert.equal((listed.json.instances as unknown[]).length, 1);
    clock.advance(31_000);
    assert.equal((await call(api.port, "PUT", `/api/v1/registry/instances/${id}/heartbeat`)).status, 404);
    assert.equal((await call(api.port, "GET", "/api/v1/nope")).status, 404);
    assert.equal((await call(api.port, "PATCH", "/api/v1/registry/instances")).status, 405);
  } finally {
    registry.stop();
    prober.stop();
    await api.close();
  }
});
