import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Endpoint } from "../endpoint.ts";
import { hashString } from "../hash.ts";
import { createMaglev, MaglevBalancer } from "./maglev.ts";
import { mulberry32, scripted } from "./test-random.ts";
import { endpoints, healthyEndpoints, tally } from "./test-fixtures.ts";

const noRandom = () => {
  throw new Error("a request with a hash must not draw randomness");
};

function placement(lb: { pick(ctx: { hash: number }): Endpoint | undefined }, keys: number): Endpoint[] {
  return Array.from({ length: keys }, (_, k) => lb.pick({ hash: hashString(`key-${k}`) })!);
}

function slotCounts(lb: MaglevBalancer, n: number): number[] {
  const counts = new Array<number>(n).fill(0);
  for (const i of lb.table) counts[i]!++;
  return counts;
}

describe("maglev", () => {
  test("equal weights fill the table evenly: slot counts differ by at most one", () => {
    const lb = new MaglevBalancer(healthyEndpoints(7), 65537, noRandom);
    assert.equal(lb.table.length, 65537);
    const counts = slotCounts(lb, 7);
    assert.equal(
      counts.reduce((a, b) => a + b, 0),
      65537,
    );
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, counts.join(","));
  });

  test("weights set each host's share of the table", () => {
    const lb = new MaglevBalancer(endpoints({ weight: 1 }, { weight: 3 }, { weight: 4 }), 65537, noRandom);
    const counts = slotCounts(lb, 3);
    [1 / 8, 3 / 8, 4 / 8].forEach((want, i) =>
      assert.ok(Math.abs(counts[i]! / 65537 - want) < 0.001, `${i}: ${counts[i]! / 65537}`),
    );
  });

  test("a pick is table[hash % size]; a small prime table works", () => {
    const eps = healthyEndpoints(3);
    const lb = new MaglevBalancer(eps, 13, noRandom);
    for (let h = 0; h < 40; h++) assert.equal(lb.pick({ hash: h }), eps[lb.table[h % 13]!]);
  });

  test("a key stays on one endpoint across 1,000 picks and across rebuilds", () => {
    const eps = healthyEndpoints(5);
    const lb = createMaglev(eps, 65537, noRandom);
    const first = placement(lb, 500);
    for (let round = 0; round < 1000; round++) {
      const k = round % 500;
      assert.equal(lb.pick({ hash: hashString(`key-${k}`) }), first[k]);
    }
    assert.deepEqual(placement(createMaglev(eps, 65537, mulberry32(5)), 500), first);
  });

  test("removing one of five endpoints moves about a fifth of the keys", () => {
    const eps = healthyEndpoints(5);
    const keys = 10_000;
    const before = placement(createMaglev(eps, 65537, noRandom), keys);
    const after = placement(
      createMaglev(
        eps.filter((_, i) => i !== 1),
        65537,
        noRandom,
      ),
      keys,
    );
    let moved = 0;
    let movedFromOthers = 0;
    for (let k = 0; k < keys; k++) {
      if (before[k] !== after[k]) {
        moved++;
        if (before[k] !== eps[1]) movedFromOthers++;
      }
    }
    assert.ok(Math.abs(moved / keys - 0.2) < 0.03, `moved ${moved / keys}`);
    assert.ok(movedFromOthers / keys < 0.01, `moved from others ${movedFromOthers / keys}`);
  });

  test("without a request hash each pick draws one random slot", () => {
    const eps = healthyEndpoints(4);
    const r = scripted();
    const lb = new MaglevBalancer(eps, 65537, r.random);
    r.queue(0.5);
    assert.equal(lb.pick({ hash: undefined }), lb.pick({ hash: Math.floor(0.5 * 4294967296) }));
    assert.equal(r.remaining(), 0);
    const rng = mulberry32(8);
    const spread = new MaglevBalancer(eps, 65537, rng);
    assert.equal(tally(Array.from({ length: 2000 }, () => spread.pick({ hash: undefined }))).size, 4);
  });
});
