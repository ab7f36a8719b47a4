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
