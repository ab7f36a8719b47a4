// Coarse timers for the data path (undici's lib/util/timers.js): most of a proxy's timers are long guards that
// almost never fire — a route's 15 s timeout, a stream's 5 min idle timeout, a connection's 1 h idle timeout — and
// each request used to arm and cancel a native timer (a Timeout object, a closure, a libuv list insertion) for
// each of them. Here a timer of at least `thresholdMs` is a plain entry in one array, swept by a single native
// tick every `tickMs` while any is pending: arming is a push, cancelling a swap with the last entry, and a timer
// fires at most one tick late (never early). Shorter timers (a 100 ms per-try timeout, a fault's delay) stay native and precise.

import { systemClock, type Clock, type Timer } from "../api/clock.ts";

export const DEFAULT_TICK_MS = 250;
/** Timers this long or longer are coarse: a tick late is at most an eighth of their length. */
export const DEFAULT_THRESHOLD_MS = 2000;

const enum State {
  Pending = 0,
  /** Taken out of the list by the tick that found it due; fires in that tick unless cancelled first. */
  Due = 1,
  Done = 2,
}

class CoarseTimer implements Timer {
  state = State.Pending;
  /** Where it sits in its clock's list while pending. */
  index = -1;
  constructor(
    readonly deadline: number,
    readonly fn: () => void,
    private readonly owner: CoarseClock,
  ) {}
  cancel(): void {
    if (this.state === State.Pending) this.owner.remove(this);
    this.state = State.Done;
  }
}

export class CoarseClock implements Clock {
  /**
   * Only the pending timers: a cancelled one is swapped out at once, so nothing it refers to (a request, its
   * buffers) outlives it — a list of cancelled timers kept until the next tick held a quarter second of requests
   * alive, and the garbage collector paid for it on every request.
   */
  private readonly timers: CoarseTimer[] = [];
  private ticking = false;

  constructor(
    private readonly base: Clock = systemClock,
    private readonly tickMs = DEFAULT_TICK_MS,
    private readonly thresholdMs = DEFAULT_THRESHOLD_MS,
    /** Where a callback's throw goes: by default rethrown on the next tick, to the process's last line. */
    private readonly onError: (err: unknown) => void = rethrowLater,
  ) {}

  now(): number {
    return this.base.now();
  }

  wallNow(): number {
    return this.base.wallNow();
  }

  setTimer(ms: number, fn: () => void): Timer {
    if (ms < this.thresholdMs) return this.base.setTimer(ms, fn);
    const timer = new CoarseTimer(this.base.now() + ms, fn, this);
    timer.index = this.timers.push(timer) - 1;
    if (!this.ticking) {
      this.ticking = true;
      this.base.setTimer(this.tickMs, this.onTick);
    }
    return timer;
  }

  /** Coarse timers armed and neither fired nor cancelled (tests, /stats). */
  get pending(): number {
    return this.timers.length;
  }

  /** Takes a pending timer out of the list: the last one takes its place. */
  remove(timer: CoarseTimer): void {
    const list = this.timers;
    const last = list.pop()!;
    if (last !== timer) {
      list[timer.index] = last;
      last.index = timer.index;
    }
    timer.index = -1;
  }

  private readonly onTick = (): void => {
    const now = this.base.now();
    const list = this.timers;
    let due: CoarseTimer[] | undefined;
    // Backwards, so the timer swapped into a removed one's place has been looked at already.
    for (let i = list.length - 1; i >= 0; i--) {
      const t = list[i]!;
      if (t.deadline > now) continue;
      this.remove(t);
      t.state = State.Due;
      (due ??= []).push(t);
    }
    // The list is settled before any callback runs: a timer a callback arms joins it (and starts the tick if needed).
    this.ticking = list.length > 0;
    if (this.ticking) this.base.setTimer(this.tickMs, this.onTick);
    if (due === undefined) return;
    if (due.length > 1) due.sort((a, b) => a.deadline - b.deadline);
    for (const t of due) {
      if (t.state !== State.Due) continue; // cancelled by an earlier callback of this tick
      t.state = State.Done;
      try {
        t.fn();
      } catch (err) {
        // One callback's throw must not cost the others their turn; it still reaches the process's last line,
        // as a native timer's would.
        this.onError(err);
      }
    }
  };
}

function rethrowLater(err: unknown): void {
  process.nextTick(rethrow, err);
}

function rethrow(err: unknown): never {
  throw err;
}
