import { test } from "node:test";
import assert from "node:assert/strict";
import { readRegistration } from "./registration.ts";

const base = { service: "reviews", address: "10.0.0.5", ports: [{ number: 9080, protocol: "HTTP" }] };

test("a registration may carry a locality, region/zone/subzone", () => {
  const r = readRegistration({ ...base, locality: "us-east/1a/r1" });
  assert.ok(r.ok);
  assert.equal(r.value.locality, "us-east/1a/r1");
  const none = readRegistration(base);
  assert.ok(none.ok);
  assert.equal(none.value.locality, undefined);
});

test("a malformed locality is refused, naming the field", () => {
  for (const locality of [7, "a/b/c/d"]) {
    const r = readRegistration({ ...base, locality });
    assert.ok(!r.ok);
    assert.match(r.error.join("\n"), /^locality: expected "region\/zone\/subzone"/m);
  }
});

test("a port's servicePort is the number callers use; the application's own port stays the instance's", async () => {
  const { registeredServices } = await import("../registered-services.ts");
  const r = readRegistration({
    ...base,
    address: "127.0.0.1",
    ports: [{ number: 41234, servicePort: 9080, protocol: "HTTP", sidecarPort: 41235 }],
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.error));
  assert.deepEqual(r.value.ports, [
    { name: "http-9080", number: 41234, servicePort: 9080, protocol: "HTTP", sidecarPort: 41235 },
  ]);
  const instance = { ...r.value, id: "reviews.default/127.0.0.1:41234", registeredAt: 0, renewedAt: 0, leaseMs: 1 };
  const [service] = registeredServices([instance]);
  assert.deepEqual(service!.ports, [{ name: "http-9080", number: 9080, protocol: "HTTP" }]);
  assert.deepEqual(service!.instances[0]!.ports, { "http-9080": { appPort: 41234, sidecarPort: 41235 } });
  const bad = readRegistration({ ...base, ports: [{ number: 9080, servicePort: 0 }] });
  assert.ok(!bad.ok);
  assert.match(bad.error.join("\n"), /^ports\[0\]\.servicePort: expected a port 1-65535, got 0$/m);
});
