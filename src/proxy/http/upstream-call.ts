// One request's journey upstream (the heart of Envoy's router filter): the attempts it makes, their per-try and
// overall timeouts, retries with back-off, the mirror copies, and the answer it relays or makes itself. It is the
// handler the pools report to and the RouteContext header formatters read. A request without a retry policy or a
// body to replay costs this one object; retries allocate only when they happen.

import type { Clock, Timer } from "../../api/clock.ts";
import type { Exchange, HttpProtocol } from "./exchange.ts";
import type { Headers } from "./headers.ts";
import { isGrpcRequest, sendLocalReply } from "./local-reply.ts";
import { EMPTY_BODY, ReplayableBody } from "./replayable-body.ts";
import { formatGrpcTimeoutMs, parseGrpcTimeoutMs } from "./grpc-timeout.ts";
import { sendMirror } from "./mirror.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamRequest, UpstreamStream } from "../upstream/pool.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import type { Endpoint } from "../upstream/endpoint.ts";
import type { ClusterChoice, CompiledRoute, RouteContext } from "../router/types.ts";
import { AttemptFailure, upstreamNeverSaw, type CompiledRetryPolicy } from "../router/retry-policy.ts";
import type { Duplex } from "node:stream";
import type { HttpConnManagerStats } from "../../telemetry/envoy-stats.ts";

/** What every call of one router shares, made once per configuration. */
export interface CallEnvironment {
  clock: Clock;
  random: () => number;
  clusters: ReadonlyMap<string, UpstreamCluster>;
  /** The connection manager's stats (upgrades are counted there). */
  hcmStats: HttpConnManagerStats;
}

/** Whether retrying is allowed for this request: not yet known, never, only if the upstream never saw it, any. */
const enum Eligibility {
  Unknown = -1,
  Never = 0,
  NeverSeenOnly = 1,
  Any = 2,
}

/** The request one retry attempt sends: the exchange's fields with a body that replays what was read. */
class AttemptRequest implements UpstreamRequest {
  constructor(
    private readonly ex: Exchange,
    readonly body: UpstreamRequest["body"],
  ) {}
  get method(): string {
    return this.ex.method;
  }
  get path(): string {
    return this.ex.path;
  }
  get authority(): string {
    return this.ex.authority;
  }
  get scheme(): string {
    return this.ex.scheme;
  }
  get headers(): Headers {
    return this.ex.headers;
  }
  get upgrade(): string | undefined {
    return this.ex.upgrade;
  }
  get protocol(): HttpProtocol {
    return this.ex.protocol;
  }
}

export class UpstreamCall implements UpstreamHandler, RouteContext {
  /** A Set-Cookie value made by a cookie hash policy, added to the response. */
  setCookie: string | undefined;
  // ---- the request -------------------------------------------------------------------------------------------
  private cluster!: UpstreamCluster;
  private done = false;
  private timer: Timer | undefined;
  private durationTimer: Timer | undefined;
  /** The route timeout came from the caller's grpc-timeout: a timeout is DEADLINE_EXCEEDED for it. */
  private grpcDeadline = false;
  private grpc = false;
  private hash: number | undefined;
  // ---- retries (untouched without a retry policy) -------------------------------------------------------------
  private readonly retry: CompiledRetryPolicy | undefined;
  private retriesLeft = 0;
  private eligibility = Eligibility.Unknown;
  private body: ReplayableBody | undefined;
  private tried: Endpoint[] | undefined;
  /** previous_priorities: the priority of every attempt so far, and what the last update excluded. */
  private attemptedPriorities: number[] | undefined;
  private excludedPriorities: ReadonlySet<number> | undefined;
  private backOffTimer: Timer | undefined;
  /** The attempt number that holds a slot of the cluster's retry breaker; 0 = none held. */
  private retrySlotAttempt = 0;
  // ---- the current attempt ------------------------------------------------------------------------------------
  private endpoint: Endpoint | undefined;
  private stream: UpstreamStream | undefined;
  private request: UpstreamRequest | undefined;
  private attemptActive = false;
  private attemptSeq = 0;
  private attemptStartMs = 0;
  private perTryTimer: Timer | undefined;
  /** The attempt holds a slot of the cluster's max_requests. */
  private requestSlot = false;

  constructor(
    private readonly ex: Exchange,
    private readonly route: CompiledRoute,
    private readonly choice: ClusterChoice | undefined,
    private readonly env: CallEnvironment,
  ) {
    this.retry = route.retryPolicy;
  }

  // ---- RouteContext --------------------------------------------------------------------------------------------
  get remoteAddress(): string {
    return this.ex.downstream.remoteAddress;
  }
  get remotePort(): number {
    return this.ex.downstream.remotePort;
  }
  get localAddress(): string {
    return this.ex.downstream.localAddress;
  }
  get localPort(): number {
    return this.ex.downstream.localPort;
  }
  get protocol(): string {
    return this.ex.protocol;
  }
  get requestId(): string | undefined {
    return this.ex.info.requestId;
  }
  get startWallMs(): number {
    const clock = this.env.clock;
    return clock.wallNow() - (clock.now() - this.ex.info.startMs);
  }

  // ---- starting ------------------------------------------------------------------------------------------------

  /** Sends the request: mirrors first (they never wait for the primary), then the first attempt to `endpoint`. */
  start(cluster: UpstreamCluster, endpoint: Endpoint, hash: number | undefined): void {
    const ex = this.ex;
    const route = this.route;
    this.cluster = cluster;
    this.hash = hash;
    ex.response.onAbort(this.onDownstreamAbort);
    const retry = this.retry;
    const mirrors = route.mirrorPolicies;
    if ((retry !== undefined || mirrors.length > 0) && !ex.body.empty && ex.upgrade === undefined)
      this.body = new ReplayableBody(ex.body, route.bufferLimitBytes);
    if (retry !== undefined) this.retriesLeft = retry.numRetries;
    // Whether the request is gRPC matters only to retries and to a grpc-timeout: no header scan otherwise.
    if (retry !== undefined) this.grpc = isGrpcRequest(ex.headers);
    if (route.idleTimeoutMs !== undefined) ex.setStreamIdleTimeout(route.idleTimeoutMs);
    if (ex.upgrade === undefined) {
      const timeout = this.effectiveTimeoutMs();
      if (timeout > 0) this.timer = this.env.clock.setTimer(timeout, this.onTimeout);
      const maxDuration = route.maxStreamDuration.maxStreamDurationMs;
      if (maxDuration > 0) {
        const left = maxDuration - (this.env.clock.now() - ex.info.startMs);
        this.durationTimer = this.env.clock.setTimer(Math.max(0, left), this.onMaxDuration);
      }
    }
    if (mirrors.length > 0) this.sendMirrors();
    this.attempt(endpoint);
  }

  /**
   * The route timeout, tightened by a gRPC caller's grpc-timeout (capped by grpc_timeout_header_max, less
   * grpc_timeout_header_offset); a tighter deadline than the caller's is passed upstream in grpc-timeout.
   */
  private effectiveTimeoutMs(): number {
    const routeTimeout = this.route.timeoutMs;
    const header = this.ex.headers.get("grpc-timeout");
    if (header === undefined || !isGrpcRequest(this.ex.headers)) return routeTimeout;
    const asked = parseGrpcTimeoutMs(header);
    if (asked === undefined) return routeTimeout;
    const { grpcTimeoutHeaderMaxMs: cap, grpcTimeoutHeaderOffsetMs: offset } = this.route.maxStreamDuration;
    let deadline = cap > 0 && asked > cap ? cap : asked;
    if (offset > 0 && deadline > offset) deadline -= offset;
    if (routeTimeout > 0 && routeTimeout < deadline) {
      this.ex.headers.set("grpc-timeout", formatGrpcTimeoutMs(routeTimeout));
      return routeTimeout;
    }
    if (deadline < asked) this.ex.headers.set("grpc-timeout", formatGrpcTimeoutMs(deadline));
    this.grpcDeadline = true;
    return deadline;
  }

  private sendMirrors(): void {
    const { ex, env, route } = this;
    for (const policy of route.mirrorPolicies) {
      if (policy.fraction < 1 && env.random() >= policy.fraction) continue;
      const cluster = env.clusters.get(policy.cluster);
      if (cluster === undefined) continue;
      const body = this.body === undefined ? EMPTY_BODY : this.body.reader(false);
      sendMirror(ex, policy, cluster, body, route.timeoutMs, env.clock);
    }
  }

  private attempt(endpoint: Endpoint): void {
    const ex = this.ex;
    const cluster = this.cluster;
    this.endpoint = endpoint;
    this.attemptActive = true;
    const seq = ++this.attemptSeq;
    ex.info.upstreamHost = endpoint.key;
    ex.info.attempts++;
    cluster.requestStarted(endpoint);
    // The first attempt usually starts in the turn the request head was read (the handlers run synchronously): no
    // second clock read. A filter that held the request first (a fault delay, flag DI) makes that untrue, and the
    // upstream time must not include the hold.
    this.attemptStartMs = seq === 1 && ex.info.responseFlags === "" ? ex.info.startMs : this.env.clock.now();
    let request: UpstreamRequest;
    if (this.body !== undefined) request = new AttemptRequest(ex, this.body.reader(true));
    else if (seq === 1) request = ex;
    else request = new AttemptRequest(ex, EMPTY_BODY);
    this.request = request;
    const perTry = this.retry?.perTryTimeoutMs ?? 0;
    if (perTry > 0 && ex.upgrade === undefined)
      this.perTryTimer = this.env.clock.setTimer(perTry, this.onPerTryTimeout);
    // max_requests: each attempt holds a request slot until endAttempt; none = overflow (503 UO).
    if (!cluster.resources.tryStartRequest()) return this.onConnectFailure("overflow", undefined);
    this.requestSlot = true;
    const stream = cluster.poolFor(endpoint).request(request, this);
    // The pool may have reported (and this call moved on) before returning.
    if (this.attemptSeq === seq && this.attemptActive) this.stream = stream;
  }

  /** The current attempt is over: its counters, its timer, its body reader. */
  private endAttempt(code: number): void {
    if (!this.attemptActive) return;
    this.attemptActive = false;
    this.perTryTimer?.cancel();
    this.perTryTimer = undefined;
    this.stream = undefined;
    if (this.body !== undefined && this.request !== undefined) this.body.detach(this.request.body);
    this.request = undefined;
    if (this.retrySlotAttempt === this.attemptSeq) this.releaseRetrySlot();
    if (this.requestSlot) {
      this.requestSlot = false; // pairs with tryStartRequest in attempt()
      this.cluster.resources.endRequest();
    }
    this.cluster.requestEnded(this.endpoint!, code, this.env.clock.now() - this.attemptStartMs);
  }

  /** The request is over (answered, failed or abandoned): nothing more happens for it. */
  private finish(): void {
    this.done = true;
    this.timer?.cancel();
    this.timer = undefined;
    this.durationTimer?.cancel();
    this.durationTimer = undefined;
    this.backOffTimer?.cancel();
    this.backOffTimer = undefined;
    this.releaseRetrySlot();
  }

  // ---- retries -------------------------------------------------------------------------------------------------

  /**
   * Whether the outcome of the current attempt is retried: the policy covers it, the request may be repeated,
   * its body can be replayed, retries are left and the cluster's retry breaker has room (its slot is taken here).
   * `failure` is undefined for a retriable response. Records URX when the retries are exhausted.
   */
  private canRetry(failure: AttemptFailure | undefined): boolean {
    const retry = this.retry;
    if (retry === undefined || this.done) return false;
    if (this.eligibility === Eligibility.Unknown) this.eligibility = retry.eligibility(this.ex, this.grpc);
    if (this.eligibility === Eligibility.Never) return false;
    if (this.eligibility === Eligibility.NeverSeenOnly && (failure === undefined || !upstreamNeverSaw(failure)))
      return false;
    if (this.body !== undefined && !this.body.replayable) return false;
    if (this.retriesLeft <= 0) {
      this.cluster.stats.upstreamRqRetryLimitExceeded.inc();
      addFlag(this.ex, "URX");
      return false;
    }
    // A retry holds a slot of the cluster's retry breaker until its attempt (or the request) ends; a retry of a
    // retry keeps the slot it has.
    if (this.retrySlotAttempt === 0 && !this.cluster.tryStartRetry()) return false;
    this.retrySlotAttempt = this.attemptSeq + 1;
    return true;
  }

  /** Schedules the retry after the jittered exponential back-off. */
  private scheduleRetry(): void {
    const retry = this.retry!;
    const stats = this.cluster.stats;
    this.retriesLeft--;
    stats.upstreamRqRetry.inc();
    stats.upstreamRqRetryBackoffExponential.inc();
    const delay = retry.backOffMs(retry.numRetries - this.retriesLeft, this.env.random);
    this.backOffTimer = this.env.clock.setTimer(delay, this.onBackOffDone);
  }

  /** A failure that ended the attempt: retried if allowed (true), else the caller answers. */
  private retryAfterFailure(failure: AttemptFailure): boolean {
    if (!this.canRetry(failure)) return false;
    this.scheduleRetry();
    return true;
  }

  private releaseRetrySlot(): void {
    if (this.retrySlotAttempt !== 0) {
      this.retrySlotAttempt = 0;
      this.cluster.endRetry();
    }
  }

  private readonly onBackOffDone = (): void => {
    this.backOffTimer = undefined;
    if (this.done) return;
    const endpoint = this.pickRetryEndpoint();
    if (endpoint === undefined) {
      this.finish();
      this.cluster.stats.upstreamCxNoneHealthy.inc();
      sendLocalReply(this.ex, 503, "UH", `no_healthy_upstream:${this.cluster.name}`);
      return;
    }
    this.attempt(endpoint);
  };

  /**
   * previous_hosts: up to host_selection_retry_max_attempts picks that avoid the endpoints already tried;
   * previous_priorities: the priority load without the priorities already tried.
   */
  private pickRetryEndpoint(): Endpoint | undefined {
    const retry = this.retry!;
    const previous = this.endpoint!;
    const ctx = { hash: this.hash, excludedPriorities: this.retryPriorities(retry, previous) };
    if (!retry.previousHosts) return this.cluster.pick(ctx);
    (this.tried ??= []).push(previous);
    let picked: Endpoint | undefined;
    for (let i = 0; i < retry.hostSelectionRetryMaxAttempts; i++) {
      picked = this.cluster.pick(ctx);
      if (picked === undefined || !this.tried.includes(picked)) return picked;
    }
    return picked;
  }

  /**
   * Envoy's previous_priorities: once `update_frequency` attempts have been made, and again every
   * `update_frequency` attempts, the priorities attempted so far are left out of the retry's priority load; in
   * between, the last exclusion stands.
   */
  private retryPriorities(retry: CompiledRetryPolicy, previous: Endpoint): ReadonlySet<number> | undefined {
    const frequency = retry.previousPrioritiesFrequency;
    if (frequency === 0) return undefined;
    const attempted = (this.attemptedPriorities ??= []);
    attempted.push(previous.priority);
    if (attempted.length >= frequency && attempted.length % frequency === 0) {
      const excluded = new Set(attempted);
      // Every priority tried: start over from the cluster's own load (Envoy resets its attempted hosts then).
      const all = this.cluster.membership.endpoints.every((e) => excluded.has(e.priority));
      this.excludedPriorities = all ? undefined : excluded;
      if (all) attempted.length = 0;
    }
    return this.excludedPriorities;
  }

  // ---- UpstreamHandler -----------------------------------------------------------------------------------------

  onConnectFailure(reason: ConnectFailure, _err: Error | undefined): void {
    if (this.done || !this.attemptActive) return;
    const cluster = this.cluster;
    const where = `${cluster.name}/${this.endpoint!.key}`;
    this.endAttempt(0);
    if (reason === "overflow") {
      this.finish();
      sendLocalReply(this.ex, 503, "UO", `upstream_reset_before_response_started{overflow}:${where}`);
      return;
    }
    cluster.outlier?.onLocalOriginFailure(this.endpoint!, "connect_failed");
    if (this.retryAfterFailure(AttemptFailure.ConnectFailure)) return;
    this.finish();
    sendLocalReply(this.ex, 503, "UF", `upstream_reset_before_response_started{${reason}}:${where}`);
  }

  onHead(status: number, headers: Headers): void {
    if (this.done || !this.attemptActive) return;
    const ex = this.ex;
    const cluster = this.cluster;
    cluster.outlier?.onResponse(this.endpoint!, status);
    const retry = this.retry;
    const retriable = retry !== undefined && retry.retriableResponse(status, headers, this.grpc);
    if (retriable && this.canRetry(undefined)) {
      const stream = this.stream;
      this.endAttempt(status);
      resetUpstream(this.cluster, stream);
      this.scheduleRetry();
      return;
    }
    // Envoy's retry success: a retried request got an answer the policy would not retry (not one it gave up on).
    if (ex.info.attempts > 1 && !retriable) cluster.stats.upstreamRqRetrySuccess.inc();
    this.route.applyResponseHeaders(headers, ex, this, this.choice);
    if (this.setCookie !== undefined) headers.add("set-cookie", this.setCookie);
    const serviceTime = Math.round(this.env.clock.now() - this.attemptStartMs);
    ex.info.upstreamServiceTimeMs = serviceTime;
    ex.info.responseHeaders = headers;
    headers.set("x-envoy-upstream-service-time", String(serviceTime));
    // Retries gave up on this answer: say so, so a relayed 503 is not opaque.
    if (ex.info.responseFlags !== "") headers.set("x-trellis-response-flags", ex.info.responseFlags);
    ex.response.head(status, headers);
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return true;
    const response = this.ex.response;
    if (response.data(chunk)) return true;
    response.onDrain(this.resumeUpstream);
    return false;
  }

  private readonly resumeUpstream = (): void => {
    this.stream?.resume();
  };

  onEnd(trailers: Headers | undefined): void {
    if (this.done) return;
    this.endAttempt(this.ex.info.responseCode);
    this.finish();
    this.ex.response.end(trailers);
  }

  onReset(err: Error): void {
    if (this.done) return;
    this.cluster.stats.upstreamRqRxReset.inc();
    const ex = this.ex;
    const headSent = ex.response.headSent;
    const where = `${this.cluster.name}/${this.endpoint!.key}`;
    this.endAttempt(headSent ? this.ex.info.responseCode : 0);
    const code = (err as NodeJS.ErrnoException).code;
    const refused = code === "REFUSED_STREAM" || code === "ERR_HTTP2_STREAM_ERROR";
    if (!headSent) {
      this.cluster.outlier?.onLocalOriginFailure(this.endpoint!, "reset");
      if (this.retryAfterFailure(refused ? AttemptFailure.RefusedStream : AttemptFailure.Reset)) return;
    }
    this.finish();
    if (code === "UPSTREAM_PROTOCOL_ERROR" || err.name === "Http1ParseError") {
      sendLocalReply(ex, 502, "UPE", `upstream_protocol_error:${where}: ${err.message}`);
      return;
    }
    const kind = refused ? "remote_reset" : "connection_termination";
    sendLocalReply(ex, 503, refused ? "UR" : "UC", `upstream_reset_before_response_started{${kind}}:${where}`);
  }

  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.endAttempt(101);
    this.finish();
    const stats = this.env.hcmStats;
    stats.downstreamCxUpgradesTotal.inc();
    stats.downstreamCxUpgradesActive.inc();
    socket.once("close", () => stats.downstreamCxUpgradesActive.dec());
    this.ex.response.upgradeTo!(headers, socket, head);
  }

  // ---- timers and downstream -----------------------------------------------------------------------------------

  private readonly onPerTryTimeout = (): void => {
    this.perTryTimer = undefined;
    if (this.done || !this.attemptActive) return;
    const stream = this.stream;
    const endpoint = this.endpoint!;
    endpoint.rqTimeout++;
    this.cluster.stats.upstreamRqPerTryTimeout.inc();
    this.endAttempt(0);
    resetUpstream(this.cluster, stream);
    this.cluster.outlier?.onLocalOriginFailure(endpoint, "timeout");
    if (this.retryAfterFailure(AttemptFailure.PerTryTimeout)) return;
    this.finish();
    sendLocalReply(this.ex, 504, "UT", `upstream_per_try_timeout:${this.route.name}`);
  };

  private readonly onTimeout = (): void => {
    this.timer = undefined;
    if (this.done) return;
    const stream = this.stream;
    const active = this.attemptActive;
    if (active) {
      this.endpoint!.rqTimeout++;
      this.endAttempt(this.ex.response.headSent ? this.ex.info.responseCode : 0);
    }
    this.finish();
    this.cluster.stats.upstreamRqTimeout.inc();
    if (active) this.cluster.outlier?.onLocalOriginFailure(this.endpoint!, "timeout");
    resetUpstream(this.cluster, stream);
    const detail = this.grpcDeadline ? "grpc_timeout_exceeded" : "upstream_response_timeout";
    sendLocalReply(this.ex, 504, "UT", `${detail}:${this.route.name}`);
  };

  private readonly onMaxDuration = (): void => {
    this.durationTimer = undefined;
    if (this.done) return;
    const stream = this.stream;
    if (this.attemptActive) this.endAttempt(this.ex.response.headSent ? this.ex.info.responseCode : 0);
    this.finish();
    this.cluster.stats.upstreamRqMaxDurationReached.inc();
    resetUpstream(this.cluster, stream);
    sendLocalReply(this.ex, 408, "UMSDR", `max_stream_duration_reached:${this.route.name}`);
  };

  private readonly onDownstreamAbort = (): void => {
    if (this.done) return;
    const stream = this.stream;
    if (this.attemptActive) this.endAttempt(this.ex.response.headSent ? this.ex.info.responseCode : 0);
    this.finish();
    resetUpstream(this.cluster, stream);
  };
}

/** The router abandons an upstream request it started (Envoy's upstream_rq_tx_reset). */
function resetUpstream(cluster: UpstreamCluster, stream: UpstreamStream | undefined): void {
  if (stream === undefined) return;
  cluster.stats.upstreamRqTxReset.inc();
  stream.abort();
}

function addFlag(ex: Exchange, flag: string): void {
  const info = ex.info;
  info.responseFlags = info.responseFlags === "" ? flag : info.responseFlags + "," + flag;
}
