import { test } from "node:test";
import assert from "node:assert/strict";
import { allocateVips, DEFAULT_VIP_RANGE, fnv1a, ipv4ToNumber, numberToIpv4, VipRangeError } from "./vips.ts";

const inRange = (ip: string, range: string): boolean => {
  const [base, bits] = range.split("/");
  const size = 2 ** (32 - Number(bits));
  const n = ipv4ToNumber(ip)!;
  const b = ipv4ToNumber(base!)!;
  return n > b && n < b + size - 1;
};

test("vips: a hostname's VIP is its hash in 240.240.0.0/16, whatever else is allocated and in what order", () => {
  const alone = allocateVips(["meeting.default.svc.cluster.local"]);
  const vip = alone.get("meeting.default.svc.cluster.local")!;
  assert.equal(
    vip,
    numberToIpv4(ipv4ToNumber("240.240.0.0")! + 1 + (fnv1a("meeting.default.svc.cluster.local") % 65534)),
  );
  const many = allocateVips(["redis.default.svc.cluster.local", "Meeting.default.svc.cluster.local", "*.example.org"]);
  assert.equal(many.get("meeting.default.svc.cluster.local"), vip, "case-insensitive, independent of the others");
  const again = allocateVips(["*.example.org", "redis.default.svc.cluster.local", "meeting.default.svc.cluster.local"]);
  assert.deepEqual([...again].sort(), [...many].sort());
});

test("vips: every VIP is inside the range, never its network or broadcast address, and distinct", () => {
  const hosts = Array.from({ length: 2000 }, (_, i) => `svc-${i}.ns.svc.cluster.local`);
  const vips = allocateVips(hosts);
  assert.equal(vips.size, 2000);
  assert.equal(new Set(vips.values()).size, 2000);
  for (const ip of vips.values()) assert.ok(inRange(ip, DEFAULT_VIP_RANGE), ip);
});

test("vips: collisions probe linearly in hostname order; a full range hands out what it has", () => {
  // A /30 has two usable addresses: 10.0.0.1 and 10.0.0.2.
  const hosts = ["a", "b", "c"];
  const vips = allocateVips(hosts, "10.0.0.0/30");
  assert.equal(vips.size, 2);
  const [first, second] = [...vips.keys()];
  assert.deepEqual([first, second], ["a", "b"], "sorted order decides who probes");
  assert.notEqual(vips.get("a"), vips.get("b"));
  const aSlot = fnv1a("a") % 2;
  assert.equal(vips.get("a"), `10.0.0.${1 + aSlot}`);
  assert.equal(vips.get("b"), `10.0.0.${1 + ((fnv1a("b") % 2 === aSlot ? aSlot + 1 : fnv1a("b") % 2) % 2)}`);
});

test("vips: reserved addresses (a ServiceEntry's own) are never handed out", () => {
  const free = allocateVips(["x"], "10.0.0.0/29");
  const taken = free.get("x")!;
  const vips = allocateVips(["x"], "10.0.0.0/29", [taken]);
  assert.notEqual(vips.get("x"), taken);
  assert.ok(inRange(vips.get("x")!, "10.0.0.0/29"));
});

test("vips: a range that cannot hold VIPs is refused with a code", () => {
  for (const bad of ["240.240.0.0", "240.240.0.1/16", "fd00::/64", "240.240.0.0/31", "300.1.1.0/24"]) {
    assert.throws(
      () => allocateVips(["a"], bad),
      (e: unknown) => e instanceof VipRangeError && e.code === "TRELLIS_VIP_RANGE" && e.message.includes(bad),
      bad,
    );
  }
});
