// The bottom of every stack: one attempt to one endpoint. It takes a slot of the cluster's max_requests breaker
// (none left: 503 UO), counts the attempt for the endpoint and the cluster, hands the request to the endpoint's
// connection pool, and translates what the pool reports into the call's terms: a failure becomes a cause of the
// rescue table (UF, UC, UR, UPE, UO) and, for retries and outlier detection, the kind of attempt failure.

import type { Duplex } from "node:stream";
import type { Exchange, HttpProtocol } from "../exchange.ts";
import type { Headers } from "../headers.ts";
import { CAUSES, connectFailureWithReason, type Cause } from "../rescue.ts";
import { transportFailureReason } from "../../tls/upstream.ts";
import { EMPTY_BODY } from "../replayable-body.ts";
import type { ConnectFailure, UpstreamHandler, UpstreamRequest, UpstreamStream } from "../../upstream/pool.ts";
import type { Endpoint } from "../../upstream/endpoint.ts";
import { AttemptFailure } from "../../router/retry-policy.ts";
import type { RouteCall } from "./route-call.ts";
import { Abandon, type CallControl, type CallHandler, type Dispatcher } from "./layer.ts";

export const ENDPOINT_LAYER: Dispatcher = {
  dispatch(call: RouteCall, up: CallHandler): CallControl {
    const attempt = new EndpointAttempt(call, up);
    attempt.send();
    return attempt;
  },
};

/** The request a later attempt (or one with a kept body) sends: the exchange's fields with a replaying body. */
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

const CONNECT_CAUSE: Record<Exclude<ConnectFailure, "overflow">, Cause> = {
  connect_timeout: CAUSES.connectTimeout,
  connection_refused: CAUSES.connectRefused,
  connection_failure: CAUSES.connectFailure,
};

class EndpointAttempt implements UpstreamHandler, CallControl {
  private active = true;
  private stream: UpstreamStream | undefined;
  private readonly request: UpstreamRequest;
  private readonly endpoint: Endpoint;
  private readonly startMs: number;
  /** The attempt holds a slot of the cluster's max_requests. */
  private requestSlot = false;
  /** The status of the response head, once one arrived. */
  private status = 0;

  constructor(
    private readonly call: RouteCall,
    private readonly up: CallHandler,
  ) {
    const { ex, cluster, endpoint, body } = call;
    this.endpoint = endpoint;
    ex.info.upstreamHost = endpoint.key;
    const seq = ++ex.info.attempts;
    cluster.requestStarted(endpoint);
    // The first attempt usually starts in the turn the request head was read (the handlers run synchronously): no
    // second clock read. A filter that held the request first (a fault delay, flag DI) makes that untrue, and the
    // upstream time must not include the hold.
    this.startMs = seq === 1 && ex.info.responseFlags === "" ? ex.info.startMs : call.env.clock.now();
    call.attemptStartMs = this.startMs;
    if (body !== undefined) this.request = new AttemptRequest(ex, body.reader(true));
    else this.request = seq === 1 ? ex : new AttemptRequest(ex, EMPTY_BODY);
  }

  send(): void {
    const cluster = this.call.cluster;
    // max_requests: each attempt holds a request slot until it ends; none = overflow (503 UO).
    if (!cluster.resources.tryStartRequest()) return this.onConnectFailure("overflow", undefined);
    this.requestSlot = true;
    const stream = cluster.poolFor(this.endpoint).request(this.request, this);
    // The pool may have reported (and this attempt ended) before returning.
    if (this.active) this.stream = stream;
  }

  /**
   * The attempt is over: its counters with `code` (0 = no response; -1 = it never left the proxy, which counts
   * nothing against the endpoint), its breaker slot, its body reader.
   */
  private end(code: number): void {
    this.active = false;
    this.stream = undefined;
    const call = this.call;
    if (call.body !== undefined) call.body.detach(this.request.body);
    if (this.requestSlot) {
      this.requestSlot = false; // pairs with tryStartRequest in send()
      call.cluster.resources.endRequest();
    }
    if (code < 0) call.cluster.requestNotSent(this.endpoint);
    else call.cluster.requestEnded(this.endpoint, code, call.env.clock.now() - this.startMs);
  }

  private where(): string {
    return `${this.call.cluster.name}/${this.endpoint.key}`;
  }

  // ---- UpstreamHandler (the pool) ------------------------------------------------------------------------------

  onConnectFailure(reason: ConnectFailure, err: Error | undefined): void {
    if (!this.active) return;
    this.end(0);
    if (reason === "overflow") return this.up.onFailure({ cause: CAUSES.overflow, subject: this.where() });
    // A failed TLS handshake or verification: the reason goes in the details, as Envoy's transport failure reason.
    const transport = reason === "connection_failure" ? transportFailureReason(err) : undefined;
    if (transport !== undefined) this.call.ex.info.upstreamTransportFailureReason = transport;
    this.up.onFailure({
      cause: transport === undefined ? CONNECT_CAUSE[reason] : connectFailureWithReason(transport),
      subject: this.where(),
      attempt: AttemptFailure.ConnectFailure,
    });
  }

  onHead(status: number, headers: Headers): void {
    if (!this.active) return;
    this.status = status;
    this.up.onHead(status, headers);
  }

  onData(chunk: Buffer): boolean {
    return this.active ? this.up.onData(chunk) : true;
  }

  onEnd(trailers: Headers | undefined): void {
    if (!this.active) return;
    this.end(this.status);
    this.up.onEnd(trailers);
  }

  onReset(err: Error): void {
    if (!this.active) return;
    const status = this.status;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "TRELLIS_H2_REQUEST_NOT_ENCODABLE") {
      // The client's request, not the endpoint: no attempt kind, so no outlier report and no retry.
      this.end(status > 0 ? status : -1);
      this.up.onFailure({ cause: CAUSES.requestNotEncodable, subject: this.where(), note: err.message });
      return;
    }
    this.call.cluster.stats.upstreamRqRxReset.inc();
    this.end(status);
    const refused = code === "REFUSED_STREAM" || code === "ERR_HTTP2_STREAM_ERROR";
    const protocol = code === "UPSTREAM_PROTOCOL_ERROR" || err.name === "Http1ParseError";
    this.up.onFailure({
      cause: protocol ? CAUSES.upstreamProtocolError : refused ? CAUSES.remoteReset : CAUSES.connectionTermination,
      subject: this.where(),
      ...(protocol ? { note: err.message } : {}),
      // After a response head, the failure is no attempt's to retry or to blame on the endpoint's health.
      ...(status > 0 ? {} : { attempt: refused ? AttemptFailure.RefusedStream : AttemptFailure.Reset }),
    });
  }

  onUpgrade(headers: Headers, socket: Duplex, head: Buffer): void {
    if (!this.active) {
      socket.destroy();
      return;
    }
    this.end(101);
    this.up.onUpgrade(headers, socket, head);
  }

  // ---- CallControl ---------------------------------------------------------------------------------------------

  abandon(why: Abandon): void {
    if (!this.active) return;
    const stream = this.stream;
    if (why === Abandon.Timeout) this.endpoint.rqTimeout++;
    this.end(this.status);
    if (stream === undefined) return;
    // The router gives up an upstream request it started (Envoy's upstream_rq_tx_reset).
    this.call.cluster.stats.upstreamRqTxReset.inc();
    stream.abort();
  }

  resume(): void {
    this.stream?.resume();
  }
}
