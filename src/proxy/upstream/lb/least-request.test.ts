import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createLeastRequest } from "./least-request.ts";
import { mulberry32, scripted } from "./test-random.ts";
import { endpoints, healthyEndpoints, tally } from "./test-fixtures.ts";

const NO_HASH = { hash: undefined };

describe("least request", () => {
  test("of two sampled endpoints the idle one wins; the busy one only when it is sampled twice", () => {
    const [idle, busy] = healthyEndpoints(2);
    busy!.activeRequests = 5;
    const r = scripted();
    const lb = createLeastRequest([idle!, busy!], 2, r.random);
    assert.equal(r.remaining(), 0, "building draws nothing");
    // Index = floor(random * 2): 0.1 → idle (0), 0.9 → busy (1).
    const cases: [number, number, typeof idle][] = [
      [0.1, 0.9, idle], // idle then busy
      [0.9, 0.1, idle], // busy then idle
      [0.1, 0.1, idle], // idle twice
      [0.9, 0.9, busy], // busy twice: the only way to pick it
    ];
    for (const [first, second, expected] of cases) {
      r.queue(first, second);
      assert.equal(lb.pick(NO_HASH), expected, `samples ${first}, ${second}`);
      assert.equal(r.remaining(), 0, "exactly choice_count draws per pick");
    }
  });

  test("ties keep the first sampled endpoint", () => {
    const [a, b] = healthyEndpoints(2);
    a!.activeRequests = b!.activeRequests = 3;
    const r = scripted();
    const lb = createLeastRequest([a!, b!], 2, r.random);
    r.queue(0.9, 0.1);
    assert.equal(lb.pick(NO_HASH), b);
    r.queue(0.1, 0.9);
    assert.equal(lb.pick(NO_HASH), a);
  });

  test("with P2C a busy endpoint of two gets a quarter of the picks; more choices make it rarer", () => {
    const [idle, busy] = healthyEndpoints(2);
    busy!.activeRequests = 1;
    const n = 10_000;
    const lb2 = createLeastRequest([idle!, busy!], 2, mulberry32(3));
    const busy2 = Array.from({ length: n }, () => lb2.pick(NO_HASH)).filter((e) => e === busy).length;
    // Binomial(10000, 1/4): sd ≈ 43; allow 5 sd.
    assert.ok(Math.abs(busy2 - n / 4) < 5 * Math.sqrt(n * 0.25 * 0.75), `busy picked ${busy2} times`);
    const lb5 = createLeastRequest([idle!, busy!], 5, mulberry32(3));
    const busy5 = Array.from({ length: n }, () => lb5.pick(NO_HASH)).filter((e) => e === busy).length;
    // (1/2)^5 = 1/32 ≈ 312 of 10000.
    assert.ok(Math.abs(busy5 - n / 32) < 5 * Math.sqrt((n * (1 / 32) * 31) / 32), `busy picked ${busy5} times`);
  });

  test("the least busy of several endpoints takes most picks and follows activeRequests as it changes", () => {
    const eps = healthyEndpoints(4);
    eps.forEach((e, i) => (e.activeRequests = 10 + i));
    eps[2]!.activeRequests = 0;
    const lb = createLeastRequest(eps, 2, mulberry32(5));
    let counts = tally(Array.from({ length: 4000 }, () => lb.pick(NO_HASH)));
    // P(sampled at least once in 2 draws of 4) = 7/16.
    assert.ok(Math.abs(counts.get(eps[2]!.key)! - 4000 * (7 / 16)) < 150, `idle got ${counts.get(eps[2]!.key)}`);
    eps[2]!.activeRequests = 100;
    eps[0]!.activeRequests = 0;
    counts = tally(Array.from({ length: 4000 }, () => lb.pick(NO_HASH)));
    assert.ok(counts.get(eps[0]!.key)! > counts.get(eps[1]!.key)!);
    assert.ok((counts.get(eps[2]!.key) ?? 0) < 4000 / 16 + 100, "the now-busiest is picked only when sampled twice");
  });

  test("weighted: a host's share shrinks with its requests in flight (weight / (active + 1))", () => {
    const [light, heavy] = endpoints({ weight: 1 }, { weight: 4 });
    const idleShare = share(createLeastRequest([light!, heavy!], 2, mulberry32(1)), heavy!);
    assert.ok(Math.abs(idleShare - 0.8) < 0.01, `idle share ${idleShare}`);
    heavy!.activeRequests = 3; // effective weight 4 / 4 = 1, the same as the light host
    const busyShare = share(createLeastRequest([light!, heavy!], 2, mulberry32(1)), heavy!);
    assert.ok(Math.abs(busyShare - 0.5) < 0.01, `busy share ${busyShare}`);
  });
});

function share(lb: { pick(ctx: { hash: undefined }): unknown }, target: unknown, n = 2000): number {
  let hits = 0;
  for (let i = 0; i < n; i++) if (lb.pick(NO_HASH) === target) hits++;
  return hits / n;
}
