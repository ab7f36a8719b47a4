// A cluster's active health checker (Envoy's HealthCheckerImplBase): one session per endpoint address, following
// the membership — an address that joins is checked (it starts failed and pending, so the balancer leaves it alone
// until its first check passes), one that leaves stops being checked. Verdicts go onto the endpoints as the
// FAILED_ACTIVE_HC / PENDING_ACTIVE_HC flags, which rebuild the balancer; the first round is what cluster warm-up
// (Proxy.start) waits for.

import type { Clock } from "../../../api/clock.ts";
import type { Cluster, HealthCheck } from "../../../api/xds/types.ts";
import type { HealthCheckStats } from "../../../telemetry/health-check-stats.ts";
import { HealthFlag, type Endpoint } from "../endpoint.ts";
import type { ClusterMembership } from "../membership.ts";
import { GrpcProbe } from "./grpc-check.ts";
import { Http1Probe, Http2Probe } from "./http-check.ts";
import type { Transition } from "./intervals.ts";
import { keepAliveDelayMs } from "../connect.ts";
import type { CheckResult, Probe, ProbeTarget } from "./probe.ts";
import { HealthCheckSession, type SessionOwner, type Verdict } from "./session.ts";
import { TcpProbe } from "./tcp-check.ts";

/** What a new endpoint starts with in a health-checked cluster (as Envoy flags hosts it adds). */
export const UNCHECKED = HealthFlag.FAILED_ACTIVE_HC | HealthFlag.PENDING_ACTIVE_HC;

export interface HealthCheckerOptions {
  clock: Clock;
  random: () => number;
  stats: HealthCheckStats;
  log: (line: string) => void;
  /** Whether the cluster has ever made an upstream connection (Envoy's no_traffic_interval rule). */
  hasTraffic: () => boolean;
}

export type CheckListener = (key: string, result: CheckResult, transition: Transition) => void;

export class HealthChecker implements SessionOwner {
  readonly clusterName: string;
  readonly clock: Clock;
  readonly random: () => number;
  readonly stats: HealthCheckStats;
  private readonly sessions = new Map<string, HealthCheckSession>();
  /** The current endpoint objects of each address (usually one; STRICT_DNS names may share an address). */
  private byKey = new Map<string, Endpoint[]>();
  private readonly listeners = new Set<CheckListener>();
  private unsubscribe: (() => void) | undefined;
  private running = false;
  private firstRound: { pending: Set<HealthCheckSession>; resolve: () => void } | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly config: HealthCheck,
    private readonly membership: ClusterMembership,
    private readonly options: HealthCheckerOptions,
  ) {
    this.clusterName = cluster.name;
    this.clock = options.clock;
    this.random = options.random;
    this.stats = options.stats;
    membership.startEndpointsWith(UNCHECKED);
  }

  /**
   * Starts a session for every endpoint and follows membership from now on. Resolves once every endpoint here
   * now has had its first check (pass, fail or timeout) — bounded anyway by initial_jitter + timeout — so the
   * proxy can start serving with a warm cluster. Never rejects.
   */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.running = true;
    this.unsubscribe = this.membership.onChange(() => this.sync());
    this.sync();
    const pending = new Set([...this.sessions.values()].filter((s) => s.awaitingFirstCheck));
    if (pending.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const finish = (): void => {
        bound.cancel();
        this.firstRound = undefined;
        resolve();
      };
      const bound = this.clock.setTimer(this.config.initialJitterMs + this.config.timeoutMs, () => finish());
      this.firstRound = { pending, resolve: finish };
    });
  }

  /** Stops every session and closes their connections; the endpoints keep their last verdict. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.unsubscribe?.();
    for (const s of this.sessions.values()) s.stop();
    this.sessions.clear();
    this.firstRound?.resolve();
  }

  /** Calls cb after every check (tests wait on it instead of sleeping); returns a function that unsubscribes. */
  onCheck(cb: CheckListener): () => void {
    this.listeners.add(cb);
    return () => void this.listeners.delete(cb);
  }

  // ---- SessionOwner --------------------------------------------------------------------------------------------

  hasTraffic(): boolean {
    return this.options.hasTraffic();
  }

  log(line: string): void {
    this.options.log(line);
  }

  applyVerdict(key: string, verdict: Verdict): void {
    for (const e of this.byKey.get(key) ?? []) {
      // PENDING first: clearing it alone never makes an endpoint healthy, so at most one rebuild per endpoint.
      this.membership.setHealthFlag(e, HealthFlag.PENDING_ACTIVE_HC, verdict.pending);
      this.membership.setHealthFlag(e, HealthFlag.FAILED_ACTIVE_HC, verdict.failed);
    }
    this.updateHealthyGauge();
  }

  checked(session: HealthCheckSession, result: CheckResult, transition: Transition): void {
    const round = this.firstRound;
    if (round !== undefined && round.pending.delete(session) && round.pending.size === 0) round.resolve();
    for (const cb of [...this.listeners]) cb(session.key, result, transition);
  }

  // ---- membership ----------------------------------------------------------------------------------------------

  /** Sessions for the addresses present, none for the others. Called on every membership or health change. */
  private sync(): void {
    if (!this.running) return;
    const byKey = new Map<string, Endpoint[]>();
    for (const e of this.membership.endpoints) {
      const list = byKey.get(e.key);
      if (list) list.push(e);
      else byKey.set(e.key, [e]);
    }
    this.byKey = byKey;
    for (const [key, session] of this.sessions) {
      if (byKey.has(key)) continue;
      session.stop();
      this.sessions.delete(key);
      if (this.firstRound?.pending.delete(session) && this.firstRound.pending.size === 0) this.firstRound.resolve();
    }
    for (const [key, endpoints] of byKey) {
      if (this.sessions.has(key)) continue;
      const e = endpoints[0]!;
      const verdict: Verdict = {
        failed: (e.healthFlags & HealthFlag.FAILED_ACTIVE_HC) !== 0,
        pending: (e.healthFlags & HealthFlag.PENDING_ACTIVE_HC) !== 0,
      };
      const session = new HealthCheckSession(key, this, this.createProbe(e), verdict);
      this.sessions.set(key, session);
      session.start();
    }
    this.updateHealthyGauge();
  }

  private updateHealthyGauge(): void {
    let healthy = 0;
    for (const s of this.sessions.values()) if (!s.failed) healthy++;
    this.stats.healthy.set(healthy);
  }

  private createProbe(e: Endpoint): Probe {
    // The endpoint's health_check_config comes first (Envoy's getHostname: the endpoint's name, then the check's,
    // then the cluster's), and may send the checks to another port.
    const target: ProbeTarget = { address: e.address, port: e.healthCheck?.port ?? e.port, key: e.key };
    const endpointName = e.healthCheck?.hostname;
    const keepAliveMs = keepAliveDelayMs(this.cluster.tcpKeepalive);
    if (keepAliveMs !== undefined) target.keepAliveMs = keepAliveMs;
    if (this.cluster.upstreamProxyProtocol !== undefined) target.proxyProtocol = this.cluster.upstreamProxyProtocol;
    const check = this.config.check;
    const reuse = this.config.reuseConnection;
    switch (check.kind) {
      case "tcp":
        return new TcpProbe(target, check, reuse);
      case "grpc":
        return new GrpcProbe(target, check, endpointName ?? check.authority ?? this.clusterName, reuse);
      case "http": {
        const http2 = check.codecClientType === undefined ? this.cluster.http2 : check.codecClientType === "HTTP2";
        const host = endpointName ?? check.host ?? this.clusterName;
        return http2 ? new Http2Probe(target, check, host, reuse) : new Http1Probe(target, check, host, reuse);
      }
    }
  }
}
