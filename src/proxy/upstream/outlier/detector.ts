// A cluster's outlier detector (Envoy's Outlier::DetectorImpl): passive health checking from the results the
// router reports. Consecutive failures eject a host at once; success rate and failure percentage are judged at
// every `interval` over the interval just finished; the same sweep returns hosts whose ejection time is up.
// Ejection is the FAILED_OUTLIER_CHECK health flag, so the balancer drops the host and the other sources of
// health (active checks, EDS) keep their own say.
//
// Envoy runs the consecutive-failure ejection on the main thread after a post; with one thread here it happens
// synchronously, inside the report that reached the threshold.

import type { Timer } from "../../../api/clock.ts";
import type { OutlierDetection } from "../../../api/xds/types.ts";
import type { ClusterContext } from "../cluster.ts";
import { HealthFlag, type Endpoint } from "../endpoint.ts";
import type { ClusterMembership } from "../membership.ts";
import type { LocalOriginFailure, OutlierReporter } from "../outlier-reporter.ts";
import { HostMonitor, REACHED_5XX, REACHED_GATEWAY_FAILURE, REACHED_LOCAL_ORIGIN_FAILURE } from "./host-monitor.ts";
import { OutlierDetectionStats, type EjectionType } from "./stats.ts";
import { successRateThreshold, type SuccessRateThreshold } from "./success-rate.ts";

function isEjected(endpoint: Endpoint): boolean {
  return (endpoint.healthFlags & HealthFlag.FAILED_OUTLIER_CHECK) !== 0;
}

export class OutlierDetector implements OutlierReporter {
  readonly stats: OutlierDetectionStats;
  private readonly monitors = new Map<Endpoint, HostMonitor>();
  private ejectionsActive = 0;
  private timer: Timer | undefined;
  private readonly unsubscribe: () => void;
  /** The last sweep's success-rate mean and threshold per origin (undefined when not computed), for logs. */
  private readonly lastThreshold: { external?: SuccessRateThreshold; localOrigin?: SuccessRateThreshold } = {};

  constructor(
    readonly config: OutlierDetection,
    private readonly membership: ClusterMembership,
    private readonly context: ClusterContext,
    private readonly clusterName: string,
  ) {
    this.stats = new OutlierDetectionStats(context.store, clusterName);
    this.track(membership.endpoints, []);
    this.unsubscribe = membership.onChange((endpoints, removed) => this.track(endpoints, removed));
    this.arm();
  }

  // ---- OutlierReporter (the request path: a map lookup and a few adds) -----------------------------------------

  onResponse(endpoint: Endpoint, status: number): void {
    const monitor = this.monitors.get(endpoint);
    if (monitor === undefined) return; // left the cluster while the request was in flight
    const reached = monitor.putHttpStatus(status, this.config);
    // With the split, an answer also proves the connection worked (Envoy counts LocalOriginConnectSuccess).
    if (this.config.splitExternalLocalOriginErrors) monitor.putLocalOriginSuccess();
    if (reached !== 0) this.onConsecutive(monitor, reached);
  }

  onLocalOriginFailure(endpoint: Endpoint, kind: LocalOriginFailure): void {
    const monitor = this.monitors.get(endpoint);
    if (monitor === undefined) return;
    // Without the split a local failure is what the caller sees: 503 for a failed connection or a reset, 504 for
    // a timeout, counted toward consecutive_5xx and consecutive_gateway_failure like an upstream's.
    const reached = this.config.splitExternalLocalOriginErrors
      ? monitor.putLocalOriginFailure(this.config)
      : monitor.putHttpStatus(kind === "timeout" ? 504 : 503, this.config);
    if (reached !== 0) this.onConsecutive(monitor, reached);
  }

  /**
   * For active health checking: call after every passing check of `endpoint`. With
   * successful_active_health_check_uneject_host (the default) an endpoint ejected by outlier detection, and not
   * failed by the health checker itself, is returned at once and its streaks reset (Envoy's host check callback).
   */
  onActiveHealthCheckPassed(endpoint: Endpoint): void {
    if (!this.config.successfulActiveHealthCheckUnejectHost) return;
    const monitor = this.monitors.get(endpoint);
    if (monitor === undefined || !isEjected(endpoint)) return;
    if ((endpoint.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0) return;
    this.uneject(monitor, "active health check passed");
  }

  // ---- reading (admin, tests) ----------------------------------------------------------------------------------

  /** The outlier state of an endpoint of the cluster (undefined for one it does not know). */
  host(endpoint: Endpoint): Readonly<HostMonitor> | undefined {
    return this.monitors.get(endpoint);
  }

  get activeEjections(): number {
    return this.ejectionsActive;
  }

  /** Stops the interval timer and membership tracking (the cluster is closing). */
  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.unsubscribe();
    this.stats.ejectionsActive.dec(this.ejectionsActive);
    this.ejectionsActive = 0;
  }

  // ---- membership ------------------------------------------------------------------------------------------------

  /** New endpoints get a fresh monitor; endpoints that left drop theirs (and their place in ejections_active). */
  private track(endpoints: readonly Endpoint[], removed: readonly Endpoint[]): void {
    for (const e of removed) {
      if (!this.monitors.delete(e) || !isEjected(e)) continue;
      this.ejectionsActive--;
      this.stats.ejectionsActive.dec();
    }
    for (const e of endpoints) if (!this.monitors.has(e)) this.monitors.set(e, new HostMonitor(e));
  }

  // ---- ejection --------------------------------------------------------------------------------------------------

  /** Envoy handles the gateway streak first; a host it ejects is not ejected again for the 5xx streak. */
  private onConsecutive(monitor: HostMonitor, reached: number): void {
    if (reached & REACHED_GATEWAY_FAILURE) this.onConsecutiveError(monitor, "consecutive_gateway_failure");
    if (reached & REACHED_5XX) this.onConsecutiveError(monitor, "consecutive_5xx");
    if (reached & REACHED_LOCAL_ORIGIN_FAILURE) this.onConsecutiveError(monitor, "consecutive_local_origin_failure");
  }

  private onConsecutiveError(monitor: HostMonitor, type: EjectionType): void {
    if (isEjected(monitor.endpoint)) return;
    this.stats.detected[type].inc();
    this.eject(monitor, type);
    // The streak starts over whether or not the ejection was enforced, so a host that keeps failing is detected
    // again after another full streak.
    if (type === "consecutive_5xx") monitor.consecutive5xx = 0;
    else if (type === "consecutive_gateway_failure") monitor.consecutiveGatewayFailure = 0;
    else monitor.consecutiveLocalOriginFailure = 0;
  }

  private enforcing(type: EjectionType): number {
    const c = this.config;
    switch (type) {
      case "consecutive_5xx":
        return c.enforcingConsecutive5xx;
      case "consecutive_gateway_failure":
        return c.enforcingConsecutiveGatewayFailure;
      case "consecutive_local_origin_failure":
        return c.enforcingConsecutiveLocalOriginFailure;
      case "success_rate":
        return c.enforcingSuccessRate;
      case "local_origin_success_rate":
        return c.enforcingLocalOriginSuccessRate;
      case "failure_percentage":
        return c.enforcingFailurePercentage;
      case "local_origin_failure_percentage":
        return c.enforcingFailurePercentageLocalOrigin;
    }
  }

  /** Envoy's runtime featureEnabled: true with `percent` % chance (0 and 100 without a roll). */
  private roll(percent: number): boolean {
    if (percent >= 100) return true;
    if (percent <= 0) return false;
    return this.context.random() * 100 < percent;
  }

  private eject(monitor: HostMonitor, type: EjectionType): void {
    const c = this.config;
    // max_ejection_percent counts the host about to go: with 10 % and 10 hosts one may go, with 9 hosts none
    // (unless always_eject_one_host lets the first one go).
    const ejectedPercent = (100 * (this.ejectionsActive + 1)) / this.monitors.size;
    const allowed = ejectedPercent <= c.maxEjectionPercent || (c.alwaysEjectOneHost && this.ejectionsActive === 0);
    if (!allowed) {
      this.stats.ejectionsOverflow.inc();
      return;
    }
    if (type === "consecutive_5xx" || type === "success_rate") this.stats.ejectionsTotal.inc();
    if (!this.roll(this.enforcing(type))) return;

    const now = this.context.clock.now();
    this.ejectionsActive++;
    this.stats.ejectionsActive.inc();
    this.stats.ejectionsEnforcedTotal.inc();
    this.stats.enforced[type].inc();
    monitor.numEjections++;
    monitor.lastEjectionMs = now;
    // Jitter spreads the return of hosts ejected together, so they do not all meet traffic at once.
    const jitterMax = Math.floor(c.maxEjectionTimeJitterMs);
    monitor.jitterMs = jitterMax > 0 ? Math.floor(this.context.random() * (jitterMax + 1)) : 0;
    // The multiplier stops growing once base × multiplier passes max_ejection_time (Envoy's bound), so a few
    // healthy intervals bring it back down.
    if (monitor.ejectTimeBackoff * c.baseEjectionTimeMs < c.maxEjectionTimeMs + c.baseEjectionTimeMs) {
      monitor.ejectTimeBackoff++;
    }
    this.membership.setHealthFlag(monitor.endpoint, HealthFlag.FAILED_OUTLIER_CHECK, true);
    this.context.log(
      `outlier_detection: cluster ${this.clusterName}: ejected ${monitor.endpoint.key} (${type}${this.detail(type, monitor)}) ` +
        `for ${this.ejectionTimeMs(monitor)} ms, ejection #${monitor.numEjections}`,
    );
  }

  /** How long the current ejection lasts: base × multiplier, capped at max_ejection_time, plus jitter. */
  ejectionTimeMs(monitor: Readonly<HostMonitor>): number {
    const c = this.config;
    return Math.min(c.baseEjectionTimeMs * monitor.ejectTimeBackoff, c.maxEjectionTimeMs) + monitor.jitterMs;
  }

  private detail(type: EjectionType, monitor: HostMonitor): string {
    const local = type.startsWith("local_origin");
    if (type.endsWith("success_rate")) {
      const t = local ? this.lastThreshold.localOrigin : this.lastThreshold.external;
      const rate = local ? monitor.localOriginSuccessRate : monitor.successRate;
      if (t) return `: success rate ${fmt(rate)} %, mean ${fmt(t.mean)} %, threshold ${fmt(t.threshold)} %`;
    }
    if (type.endsWith("failure_percentage")) {
      const rate = local ? monitor.localOriginSuccessRate : monitor.successRate;
      return `: failure ${fmt(100 - rate)} %, threshold ${this.config.failurePercentageThreshold} %`;
    }
    return "";
  }

  private uneject(monitor: HostMonitor, why: string): void {
    this.ejectionsActive--;
    this.stats.ejectionsActive.dec();
    monitor.resetConsecutive();
    monitor.lastUnejectionMs = this.context.clock.now();
    this.membership.setHealthFlag(monitor.endpoint, HealthFlag.FAILED_OUTLIER_CHECK, false);
    this.context.log(
      `outlier_detection: cluster ${this.clusterName}: unejected ${monitor.endpoint.key} (${why}) after ` +
        `${monitor.lastUnejectionMs - (monitor.lastEjectionMs ?? monitor.lastUnejectionMs)} ms`,
    );
  }

  // ---- the interval sweep ----------------------------------------------------------------------------------------

  private arm(): void {
    this.timer = this.context.clock.setTimer(this.config.intervalMs, this.onInterval);
  }

  private readonly onInterval = (): void => {
    this.timer = undefined;
    const now = this.context.clock.now();
    for (const monitor of this.monitors.values()) {
      const ejectedAt = monitor.lastEjectionMs;
      if (isEjected(monitor.endpoint) && ejectedAt !== undefined && now - ejectedAt >= this.ejectionTimeMs(monitor)) {
        this.uneject(monitor, "ejection time elapsed");
      }
      monitor.external.roll();
      monitor.localOrigin.roll();
      monitor.successRate = -1;
      monitor.localOriginSuccessRate = -1;
    }
    this.judgeRates(false);
    this.judgeRates(true);
    // A host that has stayed in for a whole interval since its return earns one step off its multiplier.
    for (const monitor of this.monitors.values()) {
      if (isEjected(monitor.endpoint) || monitor.lastUnejectionMs === undefined) continue;
      if (now - monitor.lastUnejectionMs >= this.config.intervalMs && monitor.ejectTimeBackoff > 0) {
        monitor.ejectTimeBackoff--;
      }
    }
    this.arm();
  };

  /**
   * Success-rate and failure-percentage ejection over the interval just closed, for one origin (Envoy's
   * processSuccessRateEjections). Hosts already ejected are not judged; a host's rate is shown in /clusters once
   * it has the smaller of the two request volumes.
   */
  private judgeRates(localOrigin: boolean): void {
    const c = this.config;
    if (localOrigin) this.lastThreshold.localOrigin = undefined;
    else this.lastThreshold.external = undefined;
    const hostCount = this.monitors.size;
    if (hostCount < c.successRateMinimumHosts && hostCount < c.failurePercentageMinimumHosts) return;

    const srHosts: HostMonitor[] = [];
    const srRates: number[] = [];
    const fpHosts: HostMonitor[] = [];
    const shownVolume = Math.min(c.successRateRequestVolume, c.failurePercentageRequestVolume);
    for (const monitor of this.monitors.values()) {
      if (isEjected(monitor.endpoint)) continue;
      const acc = localOrigin ? monitor.localOrigin : monitor.external;
      const volume = acc.volume;
      if (volume === 0) continue;
      const rate = acc.rate;
      if (volume >= shownVolume) {
        if (localOrigin) monitor.localOriginSuccessRate = rate;
        else monitor.successRate = rate;
      }
      if (volume >= c.successRateRequestVolume) {
        srHosts.push(monitor);
        srRates.push(rate);
      }
      if (volume >= c.failurePercentageRequestVolume) fpHosts.push(monitor);
    }

    if (srHosts.length > 0 && srHosts.length >= c.successRateMinimumHosts) {
      const t = successRateThreshold(srRates, c.successRateStdevFactor / 1000);
      if (localOrigin) this.lastThreshold.localOrigin = t;
      else this.lastThreshold.external = t;
      const type: EjectionType = localOrigin ? "local_origin_success_rate" : "success_rate";
      srHosts.forEach((monitor, i) => {
        if (srRates[i]! >= t.threshold || isEjected(monitor.endpoint)) return;
        this.stats.detected[type].inc();
        this.eject(monitor, type);
      });
    }

    if (fpHosts.length > 0 && fpHosts.length >= c.failurePercentageMinimumHosts) {
      const type: EjectionType = localOrigin ? "local_origin_failure_percentage" : "failure_percentage";
      for (const monitor of fpHosts) {
        const rate = (localOrigin ? monitor.localOrigin : monitor.external).rate;
        // A host the success-rate pass just ejected is not ejected twice.
        if (100 - rate < c.failurePercentageThreshold || isEjected(monitor.endpoint)) continue;
        this.stats.detected[type].inc();
        this.eject(monitor, type);
      }
    }
  }
}

/** A percentage for the log: at most two decimals. */
function fmt(n: number): string {
  return String(Math.round(n * 100) / 100);
}
