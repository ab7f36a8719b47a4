// Debouncing as Istio does it: a change waits for a quiet period (so a burst of edits becomes one push), but never
// longer than a maximum delay (so a steady trickle of edits cannot starve pushes). Time comes from the injected
// Clock; tests advance a ManualClock instead of sleeping.

import type { Clock, Timer } from "../../api/clock.ts";

export class Debouncer {
  private timer: Timer | undefined;
  private firstAt = 0;

  constructor(
    private readonly clock: Clock,
    private readonly quietMs: number,
    private readonly maxDelayMs: number,
    private readonly fire: () => void,
  ) {}

  /** Something changed: fire after quietMs without another trigger, or at maxDelayMs after the first. */
  trigger(): void {
    const now = this.clock.now();
    if (this.timer) this.timer.cancel();
    else this.firstAt = now;
    const wait = Math.max(0, Math.min(this.quietMs, this.firstAt + this.maxDelayMs - now));
    this.timer = this.clock.setTimer(wait, () => {
      this.timer = undefined;
      this.fire();
    });
  }

  /** A trigger is waiting. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
