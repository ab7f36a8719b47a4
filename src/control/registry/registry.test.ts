import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import { readRegistration } from "./registration.ts";
import { Registry } from "./registry.ts";
import type { RegistryEvent } from "./types.ts";

const reviews = {
  service: "reviews",
  namespace: "default",
  labels: { app: "reviews", version: "v2" },
  address: "10.0.0.7",
  ports: [{ number: 9080, protocol: "http", sidecarPort: 15006 }],
};

function registration(raw: unknown) {
  const r = readRegistration(raw);
  if (!r.ok) throw new Error(r.error.join("; "));
  return r.value;
}

describe("registration", () => {
  test("defaults: namespace, service account, port names", () => {
    const r = registration({ ...reviews, namespace: undefined });
    assert.equal(r.namespace, "default");
    assert.equal(r.serviceAccount, "default");
    assert.deepEqual(r.ports, [{ name: "http-9080", number: 9080, protocol: "HTTP", sidecarPort: 15006 }]);
  });

  test("every problem is named with its field", () => {
    const r = readRegistration({
      service: "Reviews",
      address: "not-an-ip",
      labels: { version: 2 },
      ports: [{ number: 0 }, { number: 80, protocol: "smtp", sidecarPort: 70000 }],
      extra: true,
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.deepEqual(r.error, [
      "extra: unknown field",
      "service: expected a DNS label (lower-case letters, digits, '-'), got \"Reviews\"",
      'address: expected an IP address, got "not-an-ip"',
      "labels.version: expected a string, got 2",
      "ports[0].number: expected a port 1-65535, got 0",
      'ports[1].protocol: expected one of HTTP, HTTP2, GRPC, TCP, TLS, HTTPS, AUTO, got "smtp"',
      "ports[1].sidecarPort: expected a port 1-65535, got 70000",
    ]);
    assert.equal(readRegistration("x").ok, false);
  });
});

describe("leases, like Eureka", () => {
  test("an instance without heartbeats is removed when its lease runs out; heartbeats keep it", () => {
    const clock = new ManualClock();
    const registry = new Registry({ clock, leaseMs: 30_000, sweepIntervalMs: 5_000 });
    const events: RegistryEvent[] = [];
    registry.onChange((e) => events.push(e));
    registry.start();
    const a = registry.register(registration(reviews));
    const b = registry.register(registration({ ...reviews, address: "10.0.0.8" }));
    assert.equal(a.id, "reviews.default/10.0.0.7:9080");
    for (let t = 0; t < 6; t++) {
      clock.advance(10_000);
      assert.ok(registry.heartbeat(a.id));
    }
    // b never renewed: gone within lease + one sweep; a is still there after 60 s thanks to its heartbeats.
    assert.deepEqual(
      registry.list().map((i) => i.id),
      [a.id],
    );
    const removed = events.filter((e) => e.kind === "removed");
    assert.deepEqual(
      removed.map((e) => [e.instance.id, e.reason]),
      [[b.id, "lease expired"]],
    );
    assert.equal(registry.heartbeat(b.id), undefined, "an expired instance must register again");
    assert.equal(registry.deregister(a.id), true);
    assert.equal(registry.list().length, 0);
    registry.stop();
    assert.equal(clock.pendingTimers, 0);
  });

  test("registering again updates the instance in place and keeps its first registration time", () => {
    const clock = new ManualClock();
    const registry = new Registry({ clock });
    const first = registry.register(registration(reviews));
    clock.advance(1000);
    const again = registry.register(registration({ ...reviews, labels: { app: "reviews", version: "v3" } }));
    assert.equal(again.id, first.id);
    assert.equal(again.registeredAt, first.registeredAt);
    assert.equal(registry.list().length, 1);
    assert.equal(registry.get(first.id)!.labels.version, "v3");
  });
});
