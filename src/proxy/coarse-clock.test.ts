import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../api/clock.ts";
import { CoarseClock } from "./coarse-clock.ts";

describe("CoarseClock", () => {
  test("a long timer fires on the first tick at or after its deadline, never early", () => {
    const base = new ManualClock();
    const clock = new CoarseClock(base, 250, 2000);
    const fired: number[] = [];
    clock.setTimer(2100, () => fired.push(base.now()));
    base.advance(2000);
    assert.deepEqual(fired, []);
    base.advance(249);
    assert.deepEqual(fired, []);
    base.advance(1);
    assert.deepEqual(fired, [2250]); // one tick (250 ms) is the most it can be late
    assert.equal(clock.pending, 0);
  });

  test("one native tick serves every long timer, and stops when none is left", () => {
    const base = new ManualClock();
    const clock = new CoarseClock(base, 250, 2000);
    for (let i = 0; i < 1000; i++) clock.setTimer(15_000, () => {});
    assert.equal(base.pendingTimers, 1);
    assert.equal(clock.pending, 1000);
    base.advance(15_000);
    assert.equal(clock.pending, 0);
    assert.equal(base.pendingTimers, 0);
  });

  test("a cancelled timer leaves the list at once (nothing it refers to is kept until a tick) and never fires", () => {
    const base = new ManualClock();
    const clock = new CoarseClock(base, 250, 2000);
    let fired = 0;
    const t = clock.setTimer(5000, () => fired++);
    const kept = [clock.setTimer(6000, () => fired++), clock.setTimer(7000, () => fired++)];
    t.cancel();
    assert.equal(clock.pending, 2);
    for (const k of kept) k.cancel();
    assert.equal(clock.pending, 0);
    base.advance(10_000);
    assert.equal(fired, 0);
    assert.equal(base.pendingTimers, 0);
  });

  test("short timers are the base clock's own, precise", () => {
    const base = new ManualClock();
    const clock = new CoarseClock(base, 250, 2000);
    const fired: number[] = [];
    clock.setTimer(100, () => fired.push(base.now()));
    assert.equal(clock.pending, 0);
    base.advance(100);
    assert.deepEqual(fired, [100]);
  });

  test("due timers fire in deadline order; a callback may cancel a later one or arm a new one", () => {
    const base = new ManualClock();
    const clock = new CoarseClock(base, 250, 2000);
    const order: string[] = [];
    clock.setTimer(2200, () => order.push("b"));
    const c = clock.setTimer(2240, () => order.push("c"));
    clock.setTimer(2100, () => {
      order.push("a");
      c.cancel();
      clock.setTimer(3000, () => order.push("d"));
    });
    base.advance(2250);
    assert.deepEqual(order, ["a", "b"]);
    base.advance(3000);
    assert.deepEqual(order, ["a", "b", "d"]);
  });

  test("a throwing callback does not cost the others their turn; the error still surfaces", () => {
    const base = new ManualClock();
    const errors: unknown[] = [];
    const clock = new CoarseClock(base, 250, 2000, (err) => errors.push(err));
    let ran = false;
    clock.setTimer(2000, () => {
      throw new Error("boom");
    });
    clock.setTimer(2000, () => void (ran = true));
    base.advance(2250);
    assert.equal(ran, true);
    assert.match(String(errors[0]), /boom/);
  });
});
