import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRoundRobin } from "./round-robin.ts";
import { mulberry32, scripted } from "./test-random.ts";
import { endpoints, healthyEndpoints } from "./test-fixtures.ts";

const NO_HASH = { hash: undefined };

function sequence(lb: { pick(ctx: { hash: number | undefined }): { key: string } | undefined }, n: number): string[] {
  return Array.from({ length: n }, () => lb.pick(NO_HASH)!.key);
}

describe("round robin", () => {
  test("equal weights rotate in order, starting at the offset drawn from random", () => {
    const eps = healthyEndpoints(3);
    const [a, b, c] = eps.map((e) => e.key);
    const r = scripted();
    r.queue(0.4); // floor(0.4 * 3) = 1: start at the second endpoint
    const lb = createRoundRobin(eps, r.random);
    assert.equal(r.remaining(), 0);
    assert.deepEqual(sequence(lb, 7), [b, c, a, b, c, a, b]);

    r.queue(0);
    assert.deepEqual(sequence(createRoundRobin(eps, r.random), 4), [a, b, c, a]);
  });

  test("equal weights draw from random only once, when built", () => {
    const r = scripted();
    r.queue(0.9);
    const lb = createRoundRobin(healthyEndpoints(4), r.random);
    // Any further draw would throw: the scripted source is empty.
    assert.equal(sequence(lb, 100).length, 100);
  });

  test("unequal weights interleave by earliest deadline: 1:3 gives exactly one light pick per four", () => {
    const eps = endpoints({ weight: 1 }, { weight: 3 });
    for (const seed of [1, 2, 3]) {
      const seq = sequence(createRoundRobin(eps, mulberry32(seed)), 400);
      for (let i = 0; i + 4 <= seq.length; i += 4) {
        const window = seq.slice(i, i + 4);
        assert.equal(window.filter((k) => k === eps[0]!.key).length, 1, `seed ${seed} window ${i}: ${window}`);
      }
    }
  });

  test("unequal weights 1:2:3 give exact shares over whole cycles and never bunch the light host", () => {
    const eps = endpoints({ weight: 1 }, { weight: 2 }, { weight: 3 });
    const seq = sequence(createRoundRobin(eps, mulberry32(9)), 600);
    const count = (k: string) => seq.filter((x) => x === k).length;
    assert.deepEqual(
      eps.map((e) => count(e.key)),
      [100, 200, 300],
    );
    for (let i = 1; i < seq.length; i++) {
      assert.ok(!(seq[i] === eps[0]!.key && seq[i - 1] === eps[0]!.key), `weight-1 host picked twice in a row at ${i}`);
    }
  });

  test("the weighted starting point depends on random, the order after it does not", () => {
    const eps = endpoints({ weight: 1 }, { weight: 2 }, { weight: 4 });
    const starts = new Set<string>();
    for (let seed = 1; seed <= 20; seed++) starts.add(sequence(createRoundRobin(eps, mulberry32(seed)), 7).join(","));
    assert.ok(starts.size > 1, "every seed started at the same place");
    // The sequences are rotations of one cycle: doubling any one contains all others.
    const [first, ...rest] = [...starts];
    const cycle = sequence(
      createRoundRobin(eps, () => 0),
      14,
    ).join(",");
    for (const s of [first!, ...rest]) assert.ok(cycle.includes(s), `${s} is not a rotation of ${cycle}`);
  });
});
