// The route's retry_policy: the attempts of one request, one after another. An attempt's outcome — a response head
// the policy calls retriable, or a failure of a kind it names — is retried when the request may be repeated
// (retry-policy.ts decides: idempotent, or opted in, or never seen by the upstream), its body can be replayed,
// retries are left and the cluster's retry breaker has room; after a jittered exponential back-off the next
// endpoint is picked avoiding the hosts (previous_hosts) and priorities (previous_priorities) already tried.
// Exhausted retries relay the last outcome with flag URX.

import type { Duplex } from "node:stream";
import type { Timer } from "../../../api/clock.ts";
import type { Headers } from "../headers.ts";
import { isGrpcRequest } from "../local-reply.ts";
import { CAUSES } from "../rescue.ts";
import type { Endpoint } from "../../upstream/endpoint.ts";
import { upstreamNeverSaw, type AttemptFailure, type CompiledRetryPolicy } from "../../router/retry-policy.ts";
import type { RouteCall } from "./route-call.ts";
import { Abandon, type CallControl, type CallFailure, type CallHandler, type Dispatcher } from "./layer.ts";

export class RetryLayer implements Dispatcher {
  constructor(
    private readonly policy: CompiledRetryPolicy,
    /** The stack of one attempt (outlier reporting, per-try timeout, the endpoint). */
    private readonly attempt: Dispatcher,
  ) {}

  dispatch(call: RouteCall, up: CallHandler): CallControl {
    const retrying = new RetryingCall(call, up, this.policy, this.attempt);
    retrying.send();
    return retrying;
  }
}

/** Whether this request may be retried: not yet known, never, only if the upstream never saw it, any. */
const enum Eligibility {
  Unknown = -1,
  Never = 0,
  NeverSeenOnly = 1,
  Any = 2,
}

class RetryingCall implements CallHandler, CallControl {
  private retriesLeft: number;
  private eligibility = Eligibility.Unknown;
  private readonly grpc: boolean;
  private done = false;
  /** The current attempt's control; undefined between attempts. */
  private below: CallControl | undefined;
  private attemptLive = false;
  private attemptSeq = 0;
  /** The attempt number that holds a slot of the cluster's retry breaker; 0 = none held. */
  private retrySlotAttempt = 0;
  private backOffTimer: Timer | undefined;
  private tried: Endpoint[] | undefined;
  /** previous_priorities: the priority of every attempt so far, and what the last update excluded. */
  private attemptedPriorities: number[] | undefined;
  private excludedPriorities: ReadonlySet<number> | undefined;

  constructor(
    private readonly call: RouteCall,
    private readonly up: CallHandler,
    private readonly policy: CompiledRetryPolicy,
    private readonly attempt: Dispatcher,
  ) {
    this.retriesLeft = policy.numRetries;
    // Whether the request is gRPC decides the gRPC retry conditions and whether a POST may be repeated.
    this.grpc = isGrpcRequest(call.ex.headers);
  }

  /** Sends an attempt to call.endpoint. */
  send(): void {
    const seq = ++this.attemptSeq;
    this.attemptLive = true;
    const below = this.attempt.dispatch(this.call, this);
    // The attempt may have reported (and another one started) before returning.
    if (this.attemptSeq === seq && this.attemptLive) this.below = below;
  }

  /** The current attempt is over: it gives back the retry breaker's slot it held. */
  private attemptOver(): void {
    this.attemptLive = false;
    this.below = undefined;
    if (this.retrySlotAttempt === this.attemptSeq) this.releaseRetrySlot();
  }

  private finish(): void {
    this.done = true;
    this.backOffTimer?.cancel();
    this.backOffTimer = undefined;
    this.releaseRetrySlot();
  }

  // ---- deciding ------------------------------------------------------------------------------------------------

  /**
   * Whether the outcome of the current attempt is retried: the request may be repeated, its body can be replayed,
   * retries are left and the cluster's retry breaker has room (its slot is taken here). `failure` is undefined
   * for a retriable response. Records URX when the retries are exhausted.
   */
  private canRetry(failure: AttemptFailure | undefined): boolean {
    if (this.done) return false;
    const call = this.call;
    if (this.eligibility === Eligibility.Unknown) this.eligibility = this.policy.eligibility(call.ex, this.grpc);
    if (this.eligibility === Eligibility.Never) return false;
    if (this.eligibility === Eligibility.NeverSeenOnly && (failure === undefined || !upstreamNeverSaw(failure)))
      return false;
    if (call.body !== undefined && !call.body.replayable) return false;
    if (this.retriesLeft <= 0) {
      call.cluster.stats.upstreamRqRetryLimitExceeded.inc();
      const info = call.ex.info;
      info.responseFlags = info.responseFlags === "" ? "URX" : info.responseFlags + ",URX";
      return false;
    }
    // A retry holds a slot of the cluster's retry breaker until its attempt (or the request) ends; a retry of a
    // retry keeps the slot it has.
    if (this.retrySlotAttempt === 0 && !call.cluster.tryStartRetry()) return false;
    this.retrySlotAttempt = this.attemptSeq + 1;
    return true;
  }

  private scheduleRetry(): void {
    const policy = this.policy;
    const { env, cluster } = this.call;
    this.retriesLeft--;
    cluster.stats.upstreamRqRetry.inc();
    cluster.stats.upstreamRqRetryBackoffExponential.inc();
    const delay = policy.backOffMs(policy.numRetries - this.retriesLeft, env.random);
    this.backOffTimer = env.clock.setTimer(delay, this.onBackOffDone);
  }

  private releaseRetrySlot(): void {
    if (this.retrySlotAttempt !== 0) {
      this.retrySlotAttempt = 0;
      this.call.cluster.endRetry();
    }
  }

  private readonly onBackOffDone = (): void => {
    this.backOffTimer = undefined;
    if (this.done) return;
    const call = this.call;
    const endpoint = this.pickRetryEndpoint();
    if (endpoint === undefined) {
      this.finish();
      call.cluster.stats.upstreamCxNoneHealthy.inc();
      this.up.onFailure({ cause: CAUSES.noHealthyUpstream, subject: call.cluster.name });
      return;
    }
    call.endpoint = endpoint;
    this.send();
  };

  /**
   * previous_hosts: up to host_selection_retry_max_attempts picks that avoid the endpoints already tried;
   * previous_priorities: the priority load without the priorities already tried.
   */
  private pickRetryEndpoint(): Endpoint | undefined {
    const policy = this.policy;
    const { cluster, endpoint: previous, hash } = this.call;
    const ex = this.call.ex;
    const ctx = {
      hash,
      excludedPriorities: this.retryPriorities(previous),
      authority: ex.authority,
      downstream: ex.downstream,
      headers: ex.headers,
    };
    if (!policy.previousHosts) return cluster.pick(ctx);
    (this.tried ??= []).push(previous);
    let picked: Endpoint | undefined;
    for (let i = 0; i < policy.hostSelectionRetryMaxAttempts; i++) {
      picked = cluster.pick(ctx);
      if (picked === undefined || !this.tried.includes(picked)) return picked;
    }
    return picked;
  }

  /**
   * Envoy's previous_priorities: once `update_frequency` attempts have been made, and again every
   * `update_frequency` attempts, the priorities attempted so far are left out of the retry's priority load; in
   * between, the last exclusion stands.
   */
  private retryPriorities(previous: Endpoint): ReadonlySet<number> | undefined {
    const frequency = this.policy.previousPrioritiesFrequency;
    if (frequency === 0) return undefined;
    const attempted = (this.attemptedPriorities ??= []);
    attempted.push(previous.priority);
    if (attempted.length >= frequency && attempted.length % frequency === 0) {
      const excluded = new Set(attempted);
      // Every priority tried: start over from the cluster's own load (Envoy resets its attempted hosts then).
      const all = this.call.cluster.membership.endpoints.every((e) => excluded.has(e.priority));
      this.excludedPriorities = all ? undefined : excluded;
      if (all) attempted.length = 0;
    }
    return this.excludedPriorities;
  }

  // ---- CallHandler (the current attempt) -----------------------------------------------------------------------

  onHead(status: number, headers: Headers): void {
    if (this.done) return;
    const call = this.call;
    const retriable = this.policy.retriableResponse(status, headers, this.grpc);
    if (retriable && this.canRetry(undefined)) {
      const below = this.below;
      this.attemptOver();
      below?.abandon(Abandon.Cancel);
      this.scheduleRetry();
      return;
    }
    // Envoy's retry success: a retried request got an answer the policy would not retry (not one it gave up on).
    if (call.ex.info.attempts > 1 && !retriable) call.cluster.stats.upstreamRqRetrySuccess.inc();
    this.up.onHead(status, headers);
  }

  onData(chunk: Buffer): boolean {
    return this.done ? true : this.up.onData(chunk);
  }

  onEnd(trailers: Headers | undefined): void {
    if (this.done) return;
    this.attemptOver();
    this.finish();
    this.up.onEnd(trailers);
  }

  onFailure(failure: CallFailure): void {
    if (this.done) return;
    this.attemptOver();
    const kind = failure.attempt;
    // A failure after the response started cannot be retried: the client has part of an answer.
    if (kind !== undefined && !this.call.ex.response.headSent && this.policy.retriableFailure(kind)) {
      if (this.canRetry(kind)) {
        this.scheduleRetry();
        return;
      }
    }
    this.finish();
    this.up.onFailure(failure);
  }

  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (this.done) {
      socket.destroy();
      return;
    }
    this.attemptOver();
    this.finish();
    this.up.onUpgrade(headers, socket, head);
  }

  // ---- CallControl ---------------------------------------------------------------------------------------------

  abandon(why: Abandon): void {
    if (this.done) return;
    const below = this.below;
    this.attemptOver();
    this.finish();
    below?.abandon(why);
  }

  resume(): void {
    this.below?.resume();
  }
}
