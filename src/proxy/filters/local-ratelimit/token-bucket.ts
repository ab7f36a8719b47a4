// A token bucket refilled in whole steps, as Envoy's local rate limiter refills it: it starts full, every
// fill_interval adds tokens_per_fill, never above max_tokens, and each admission takes one token. Instead of a fill
// timer the steps are counted from the clock when the bucket is asked (nothing runs while no traffic comes, and
// a ManualClock drives it in tests); the outcome is the same as a timer firing at every step.

import type { Clock } from "../../../api/clock.ts";
import type { TokenBucket as TokenBucketConfig } from "../../../api/xds/types.ts";

export class TokenBucket {
  readonly maxTokens: number;
  private readonly tokensPerFill: number;
  private readonly fillIntervalMs: number;
  private tokens: number;
  /** When the next fill step is due (clock.now() scale). */
  private nextFillMs: number;

  constructor(
    config: TokenBucketConfig,
    private readonly clock: Clock,
  ) {
    this.maxTokens = config.maxTokens;
    this.tokensPerFill = config.tokensPerFill;
    this.fillIntervalMs = config.fillIntervalMs;
    this.tokens = config.maxTokens;
    this.nextFillMs = clock.now() + config.fillIntervalMs;
  }

  /** Takes one token if there is one. */
  tryConsume(): boolean {
    this.refill();
    if (this.tokens === 0) return false;
    this.tokens--;
    return true;
  }

  /** Tokens left now (x-ratelimit-remaining). */
  remaining(): number {
    this.refill();
    return this.tokens;
  }

  /** Whole seconds until the next fill step, truncated as Envoy's remainingFillInterval is (x-ratelimit-reset). */
  resetSeconds(): number {
    this.refill();
    return Math.trunc((this.nextFillMs - this.clock.now()) / 1000);
  }

  private refill(): void {
    const now = this.clock.now();
    if (now < this.nextFillMs) return;
    // Every step that fell due since the last look, at once; the schedule keeps its phase (as a timer would).
    const steps = Math.floor((now - this.nextFillMs) / this.fillIntervalMs) + 1;
    this.nextFillMs += steps * this.fillIntervalMs;
    if (this.tokens < this.maxTokens) this.tokens = Math.min(this.maxTokens, this.tokens + steps * this.tokensPerFill);
  }
}
