import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Endpoint } from "../endpoint.ts";
import { hashString } from "../hash.ts";
import { createRingHash, RingHashBalancer, type RingHashOptions } from "./ring-hash.ts";
import { mulberry32, scripted } from "./test-random.ts";
import { endpoints, healthyEndpoints, tally } from "./test-fixtures.ts";

const DEFAULTS: RingHashOptions = { minimumRingSize: 1024, maximumRingSize: 8 * 1024 * 1024 };
const noRandom = () => {
  throw new Error("a request with a hash must not draw randomness");
};

function ring(eps: readonly Endpoint[], options = DEFAULTS, random: () => number = noRandom): RingHashBalancer {
  return new RingHashBalancer(eps, options, random);
}

/** Which endpoint each of `keys` lands on. */
function placement(lb: { pick(ctx: { hash: number }): Endpoint | undefined }, keys: number): Endpoint[] {
  return Array.from({ length: keys }, (_, k) => lb.pick({ hash: hashString(`key-${k}`) })!);
}

describe("ring hash", () => {
  test("ring size: the lightest host gets a whole number of entries and the ring reaches the minimum size", () => {
    // 3 equal hosts: ceil(1024 / 3) = 342 entries each.
    const three = ring(healthyEndpoints(3));
    assert.equal(three.hashes.length, 3 * 342);
    // Weights 1:3: the light host gets ceil(0.25 * 1024) = 256 entries, the ring 1024.
    const weighted = ring(endpoints({ weight: 1 }, { weight: 3 }));
    assert.equal(weighted.hashes.length, 1024);
    // Capped at maximumRingSize (Envoy's validation keeps minimum <= maximum; the cap wins regardless).
    assert.equal(ring(healthyEndpoints(3), { minimumRingSize: 64, maximumRingSize: 40 }).hashes.length, 40);
    // Sorted ascending.
    const h = three.hashes;
    for (let i = 1; i < h.length; i++) assert.ok(h[i - 1]! <= h[i]!, `unsorted at ${i}`);
  });

  test("entries are hashString(key + '_' + i), so the router's hashes of the same strings land on them", () => {
    const [only] = healthyEndpoints(1);
    const lb = ring([only!], { minimumRingSize: 8, maximumRingSize: 8 });
    const expected = Array.from({ length: 8 }, (_, i) => hashString(`${only!.key}_${i}`)).sort((a, b) => a - b);
    assert.deepEqual([...lb.hashes], expected);
  });

  test("a hash maps to the first entry at or after it, wrapping past the last", () => {
    const eps = healthyEndpoints(4);
    const lb = ring(eps, { minimumRingSize: 16, maximumRingSize: 16 });
    const h = lb.hashes;
    for (let i = 0; i < h.length; i++) {
      assert.equal(lb.pick({ hash: h[i]! }), lb.pick({ hash: i === 0 ? 0 : h[i - 1]! + 1 }), `entry ${i}`);
    }
    assert.ok(h[h.length - 1]! < 0xffffffff);
    assert.equal(lb.pick({ hash: h[h.length - 1]! + 1 }), lb.pick({ hash: h[0]! }), "wraps to the first entry");
    assert.equal(lb.pick({ hash: 0xffffffff }), lb.pick({ hash: 0 }));
  });

  test("a key stays on one endpoint across 1,000 picks and across rebuilds", () => {
    const eps = healthyEndpoints(5);
    const lb = ring(eps);
    const first = placement(lb, 500);
    for (let round = 0; round < 1000; round++) {
      const k = round % 500;
      assert.equal(lb.pick({ hash: hashString(`key-${k}`) }), first[k]);
    }
    // A new ring over the same endpoints (another proxy, another seed) agrees.
    assert.deepEqual(placement(createRingHash(eps, DEFAULTS, mulberry32(99)), 500), first);
  });

  test("removing one of five endpoints moves its keys and few others", () => {
    const eps = healthyEndpoints(5);
    const keys = 10_000;
    const before = placement(ring(eps), keys);
    const after = placement(ring(eps.filter((_, i) => i !== 1)), keys);
    let moved = 0;
    let movedFromOthers = 0;
    for (let k = 0; k < keys; k++) {
      assert.notEqual(after[k], eps[1], "a key still on the removed endpoint");
      if (before[k] !== after[k]) {
        moved++;
        if (before[k] !== eps[1]) movedFromOthers++;
      }
    }
    // 1/N = 20 % must move. Others move only because the ring is rescaled (205 → 256 entries per host, as in
    // Envoy: the lightest host's share of the minimum ring size changes with N); measured 8.6 %.
    assert.ok(moved / keys > 0.15 && moved / keys < 0.3, `moved ${moved / keys}`);
    assert.ok(movedFromOthers / keys < 0.1, `moved from others ${movedFromOthers / keys}`);
  });

  test("without a request hash each pick draws one random position", () => {
    const eps = healthyEndpoints(3);
    const r = scripted();
    const lb = ring(eps, DEFAULTS, r.random);
    r.queue(0); // position 0: the first entry
    assert.equal(lb.pick({ hash: undefined }), lb.pick({ hash: 0 }));
    r.queue(0.999999);
    const pos = Math.floor(0.999999 * 4294967296);
    assert.equal(lb.pick({ hash: undefined }), lb.pick({ hash: pos }));
    assert.equal(r.remaining(), 0);
    const spread = createRingHash(eps, DEFAULTS, mulberry32(4));
    const counts = tally(Array.from({ length: 3000 }, () => spread.pick({ hash: undefined })));
    assert.equal(counts.size, 3);
  });

  test("weights set each host's share of the ring", () => {
    const eps = endpoints({ weight: 1 }, { weight: 2 }, { weight: 5 });
    const lb = ring(eps, { minimumRingSize: 8192, maximumRingSize: 8 * 1024 * 1024 });
    const counts = tally(placement(lb, 20_000));
    const shares = eps.map((e) => counts.get(e.key)! / 20_000);
    [1 / 8, 2 / 8, 5 / 8].forEach((want, i) => assert.ok(Math.abs(shares[i]! - want) < 0.03, `${i}: ${shares[i]}`));
  });
});
