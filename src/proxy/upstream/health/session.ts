// One endpoint's active health checking, Envoy's ActiveHealthCheckSession: a check every interval, each bounded by
// the timeout, and the endpoint's verdict moved by the results —
// - a pending endpoint (new, never checked) becomes healthy on its first success and stays failed on its first
//   failure, without waiting for a threshold (Envoy's first_check_: warm-up should be quick);
// - a healthy endpoint fails after unhealthy_threshold consecutive network failures (connect failure, reset,
//   timeout) or retriable statuses, and at once on any other failure (a status outside expected_statuses);
// - a failed endpoint comes back after healthy_threshold consecutive successes.

import type { Clock, Timer } from "../../../api/clock.ts";
import type { HealthCheck } from "../../../api/xds/types.ts";
import type { HealthCheckStats } from "../../../telemetry/health-check-stats.ts";
import { initialDelayMs, nextIntervalMs, type CheckOutcome, type Transition } from "./intervals.ts";
import { errorText, networkFailure, type CheckFailure, type CheckResult, type Probe } from "./probe.ts";

/** The verdict of active health checking on one endpoint (its FAILED_ACTIVE_HC / PENDING_ACTIVE_HC flags). */
export interface Verdict {
  failed: boolean;
  pending: boolean;
}

/** What a session needs from its checker. */
export interface SessionOwner {
  readonly clusterName: string;
  readonly config: HealthCheck;
  readonly clock: Clock;
  readonly random: () => number;
  readonly stats: HealthCheckStats;
  /** Whether the cluster has ever made an upstream connection (else no_traffic_interval applies). */
  hasTraffic(): boolean;
  /** Writes the verdict onto the endpoint(s) with this key (the membership rebuilds its balancer if needed). */
  applyVerdict(key: string, verdict: Verdict): void;
  /** Every check's result, after the verdict was applied. */
  checked(session: HealthCheckSession, result: CheckResult, transition: Transition): void;
  log(line: string): void;
}

export class HealthCheckSession {
  private firstCheck = true;
  private consecutiveHealthy = 0;
  private consecutiveUnhealthy = 0;
  private intervalTimer: Timer | undefined;
  private timeoutTimer: Timer | undefined;
  /** Bumped for each check, on timeout and on stop: a late answer to an older check is dropped. */
  private generation = 0;
  private stopped = false;

  constructor(
    /** The endpoint's "address:port". */
    readonly key: string,
    private readonly owner: SessionOwner,
    private readonly probe: Probe,
    private readonly verdict: Verdict,
  ) {}

  get failed(): boolean {
    return this.verdict.failed;
  }

  /** True until the first check has finished (passed, failed or timed out). */
  get awaitingFirstCheck(): boolean {
    return this.firstCheck;
  }

  start(): void {
    const delay = initialDelayMs(this.owner.config, this.owner.random);
    if (delay === 0) this.runCheck();
    else this.intervalTimer = this.owner.clock.setTimer(delay, () => this.runCheck());
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.generation++;
    this.intervalTimer?.cancel();
    this.timeoutTimer?.cancel();
    this.probe.close();
  }

  private runCheck(): void {
    if (this.stopped) return;
    const { owner } = this;
    const generation = ++this.generation;
    owner.stats.attempt.inc();
    this.timeoutTimer = owner.clock.setTimer(owner.config.timeoutMs, () => this.onTimeout(generation));
    try {
      this.probe.check((result) => {
        if (generation === this.generation && !this.stopped) this.onResult(result);
      });
    } catch (err) {
      // A probe that throws (it should not) is a failed check, reported after this call like any other result.
      queueMicrotask(() => {
        if (generation === this.generation && !this.stopped) this.onResult(networkFailure(errorText(err)));
      });
    }
  }

  private onTimeout(generation: number): void {
    if (generation !== this.generation || this.stopped) return;
    this.generation++;
    this.probe.abort();
    this.onResult(networkFailure(`timed out after ${this.owner.config.timeoutMs} ms`));
  }

  private onResult(result: CheckResult): void {
    this.timeoutTimer?.cancel();
    this.timeoutTimer = undefined;
    const first = this.firstCheck;
    const wasFailed = this.verdict.failed;
    const transition = result.ok ? this.onSuccess() : this.onFailure(result);
    this.firstCheck = false;
    const { owner } = this;
    const changed = this.verdict.failed !== wasFailed || first;
    if (changed) owner.applyVerdict(this.key, this.verdict);
    this.logResult(result, wasFailed, first);
    owner.checked(this, result, transition);
    if (this.stopped) return; // the verdict's listeners may have removed this endpoint
    const outcome: CheckOutcome = result.ok ? "healthy" : "unhealthy";
    const next = nextIntervalMs(owner.config, outcome, transition, owner.hasTraffic(), owner.random);
    this.intervalTimer = owner.clock.setTimer(next, () => this.runCheck());
  }

  private onSuccess(): Transition {
    this.owner.stats.success.inc();
    this.consecutiveUnhealthy = 0;
    let transition: Transition = "unchanged";
    if (this.verdict.failed) {
      if (this.firstCheck || ++this.consecutiveHealthy >= this.owner.config.healthyThreshold) {
        this.verdict.failed = false;
        this.consecutiveHealthy = 0;
        transition = "changed";
      } else transition = "pending";
    }
    return this.clearPending(transition);
  }

  private onFailure(failure: CheckFailure): Transition {
    const { stats, config } = this.owner;
    stats.failure.inc();
    if (failure.type === "network") stats.networkFailure.inc();
    this.consecutiveHealthy = 0;
    let transition: Transition = "unchanged";
    if (!this.verdict.failed) {
      const counts = failure.type === "network" || failure.retriable;
      if (!counts || ++this.consecutiveUnhealthy >= config.unhealthyThreshold) {
        this.verdict.failed = true;
        this.consecutiveUnhealthy = 0;
        transition = "changed";
      } else transition = "pending";
    }
    return this.clearPending(transition);
  }

  /** The first result of a pending endpoint is a change even when its verdict stays (it leaves "pending"). */
  private clearPending(transition: Transition): Transition {
    if (!this.verdict.pending) return transition;
    this.verdict.pending = false;
    return "changed";
  }

  private logResult(result: CheckResult, wasFailed: boolean, first: boolean): void {
    const { owner } = this;
    const where = `health check: cluster ${owner.clusterName} host ${this.key}`;
    if (result.ok) {
      if (wasFailed && !this.verdict.failed) owner.log(`${where} is healthy${first ? " (first check passed)" : ""}`);
      else if (owner.config.alwaysLogHealthCheckSuccess) owner.log(`${where} passed`);
      return;
    }
    if (!wasFailed && this.verdict.failed) owner.log(`${where} is unhealthy: ${result.reason}`);
    else if (first) owner.log(`${where} is unhealthy: first check failed: ${result.reason}`);
    else if (owner.config.alwaysLogHealthCheckFailures) owner.log(`${where} failed: ${result.reason}`);
  }
}
