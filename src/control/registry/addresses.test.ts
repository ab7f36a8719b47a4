import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import { AddressesExhaustedError, AddressPool, AddressRangeError, parseAddressRange } from "./addresses.ts";

test("address range: the gateway is the first host address, leases run to the one before broadcast", () => {
  const r = parseAddressRange("10.250.0.0/16");
  assert.equal(r.gateway, "10.250.0.1");
  assert.equal(r.prefixLength, 16);
  assert.throws(() => parseAddressRange("10.250.0.0"), AddressRangeError);
  assert.throws(() => parseAddressRange("10.250.0.0/30"), /prefix length of 8 to 29, got 30/);
  assert.throws(() => parseAddressRange("10.250.0.7/24"), /not the range's first address \(10\.250\.0\.0\/24\)/);
  assert.throws(() => parseAddressRange("300.1.1.0/24"), /expected an IPv4 CIDR/);
});

test("address pool: one address per node id, renewed by asking again, none twice, released, expired, exhausted", () => {
  const clock = new ManualClock();
  const events: string[] = [];
  const pool = new AddressPool({
    clock,
    range: "10.9.0.0/29",
    leaseMs: 30_000,
    persist: (e) => events.push(`${e.kind} ${e.lease.address}`),
  });
  const a = pool.lease("a.default");
  const b = pool.lease("b.default");
  assert.deepEqual(
    [a.address, a.gateway, a.prefixLength, a.bridge, b.address],
    ["10.9.0.2", "10.9.0.1", 29, "trellis0", "10.9.0.3"],
  );
  assert.equal(pool.lease("a.default").address, "10.9.0.2", "the same node keeps its address");
  assert.equal(pool.release({ address: "10.9.0.2" }), true);
  assert.equal(pool.release({ address: "10.9.0.2" }), false);
  assert.equal(
    pool.lease("c.default").address,
    "10.9.0.4",
    "round robin: not the address just released (a caller may still hold connections to it)",
  );
  // /29: .2 to .6 are leasable; after .6 the search wraps to the free ones.
  assert.deepEqual(
    ["d", "e", "f"].map((n) => pool.lease(n).address),
    ["10.9.0.5", "10.9.0.6", "10.9.0.2"],
  );
  assert.throws(() => pool.lease("g"), AddressesExhaustedError);
  assert.throws(() => pool.lease("g"), AddressesExhaustedError);
  // Renewed ones stay; the others run out.
  clock.advance(20_000);
  pool.renew("b.default");
  pool.lease("c.default");
  clock.advance(15_000);
  pool.sweep();
  assert.deepEqual(
    pool.list().map((l) => `${l.address} ${l.nodeId}`),
    ["10.9.0.3 b.default", "10.9.0.4 c.default"],
  );
  assert.ok(events.includes("released 10.9.0.2"));
});
