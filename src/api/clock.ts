// Time as an injected dependency: production code asks a Clock, tests pass a ManualClock and advance it, so no
// test sleeps to wait for a timeout (Envoy's simulated time, linkerd's paused tokio). Only the interface and two
// tiny implementations live here; nothing in api/ starts a timer on its own.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall time). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for logs and cookies). */
  wallNow(): number;
  /** Runs fn once after ms; the timer never keeps the process alive on its own. */
  setTimer(ms: number, fn: () => void): Timer;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};

/** A clock that moves only when told to; timers fire, in deadline order, inside advance(). */
export class ManualClock implements Clock {
  private current: number;
  private wallOffset: number;
  private seq = 0;
  private pending: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];

  constructor(startMs = 0, wallStartMs = 1_700_000_000_000) {
    this.current = startMs;
    this.wallOffset = wallStartMs - startMs;
  }

  now(): number {
    return this.current;
  }

  wallNow(): number {
    return this.current + this.wallOffset;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const entry = { at: this.current + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.pending.push(entry);
    return { cancel: () => void (entry.cancelled = true) };
  }

  /** Number of timers not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /** Moves time forward by ms, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.current + ms;
    for (;;) {
      let next: (typeof this.pending)[number] | undefined;
      for (const p of this.pending) {
        if (p.cancelled || p.at > target) continue;
        if (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq)) next = p;
      }
      if (!next) break;
      this.current = next.at;
      next.cancelled = true;
      this.pending = this.pending.filter((p) => !p.cancelled);
      next.fn();
    }
    this.current = target;
  }
}
