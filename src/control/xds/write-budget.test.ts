import { test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../api/clock.ts";
import { WriteBudget, type BudgetedWriter } from "./write-budget.ts";

/** A writer that records what it was given and completes only when told. */
class HeldWriter implements BudgetedWriter {
  readonly written: string[] = [];
  private readonly pending: (() => void)[] = [];
  write(bytes: Buffer, done: () => void): void {
    this.written.push(bytes.toString());
    this.pending.push(done);
  }
  complete(): void {
    this.pending.shift()?.();
  }
}

const b = (text: string) => Buffer.from(text);

test("writes beyond the budget wait, in order, and start as earlier ones complete", () => {
  const budget = new WriteBudget(10, new ManualClock());
  const one = new HeldWriter();
  const two = new HeldWriter();
  budget.send(one, "lds", b("aaaaaa")); // 6 bytes: in flight
  budget.send(two, "lds", b("bbbbbb")); // would make 12: waits
  assert.deepEqual(one.written, ["aaaaaa"]);
  assert.deepEqual(two.written, []);
  assert.equal(budget.bytesInFlight, 6);
  assert.equal(budget.queued, 1);
  one.complete();
  assert.deepEqual(two.written, ["bbbbbb"]);
  assert.equal(budget.bytesInFlight, 6);
  two.complete();
  assert.equal(budget.bytesInFlight, 0);
});

test("a response larger than the whole budget still goes when nothing else is in flight", () => {
  const budget = new WriteBudget(4, new ManualClock());
  const w = new HeldWriter();
  budget.send(w, "rds", b("0123456789"));
  assert.deepEqual(w.written, ["0123456789"]);
});

test("a stream's responses keep their order, and a waiting one is replaced by a newer one of its type", () => {
  const budget = new WriteBudget(5, new ManualClock());
  const busy = new HeldWriter();
  const w = new HeldWriter();
  budget.send(busy, "cds", b("xxxxx"));
  budget.send(w, "rds", b("r1"));
  budget.send(w, "cds", b("c1"));
  budget.send(w, "rds", b("r2")); // r1 still waiting: replaced, keeping its place before c1
  busy.complete();
  assert.deepEqual(w.written, ["r2", "c1"]);
});

test("a stream that ends releases its bytes and drops what it had waiting", () => {
  const budget = new WriteBudget(5, new ManualClock());
  const gone = new HeldWriter();
  const next = new HeldWriter();
  budget.send(gone, "lds", b("11111"));
  budget.send(gone, "cds", b("22"));
  budget.send(next, "lds", b("33"));
  budget.forget(gone);
  assert.deepEqual(next.written, ["33"]);
  assert.equal(budget.queued, 0);
  gone.complete(); // a late completion of a forgotten stream changes nothing
  assert.equal(budget.bytesInFlight, 2);
});

test("a stream that stops reading holds the budget only for a while; the others then go on", () => {
  const clock = new ManualClock();
  const budget = new WriteBudget(10, clock, 5_000);
  const stuck = new HeldWriter();
  const healthy = new HeldWriter();
  budget.send(stuck, "rds", b("0123456789"));
  budget.send(healthy, "rds", b("abc"));
  assert.deepEqual(healthy.written, [], "waits while the stuck write counts");
  clock.advance(4_999);
  assert.deepEqual(healthy.written, []);
  clock.advance(1);
  assert.deepEqual(healthy.written, ["abc"], "after stuckAfterMs the stuck bytes no longer count");
  assert.equal(budget.bytesInFlight, 3);
  stuck.complete(); // completing late changes nothing
  assert.equal(budget.bytesInFlight, 3);
  healthy.complete();
  assert.equal(budget.bytesInFlight, 0);
});
