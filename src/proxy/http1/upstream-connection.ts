// One HTTP/1.1 connection to an upstream endpoint, carrying one request at a time. It writes the request head in
// one write, streams the body (Content-Length or chunked), parses the response with the strict codec and reports
// it to the router's handler. Reused from its pool's idle stack while both sides keep it alive, within
// max_requests_per_connection and max_connection_duration.

import type net from "node:net";
import type { Clock, Timer } from "../../api/clock.ts";
import type { BodySink } from "../http/exchange.ts";
import type { Headers } from "../http/headers.ts";
import type { RetireReason, UpstreamHandler, UpstreamRequest, UpstreamStream } from "../upstream/pool.ts";
import { parseResponseHead, type Http1Limits } from "./response-head.ts";
import { ChunkedDecoder } from "./chunked.ts";
import { Http1ParseError } from "./errors.ts";
import { encodeChunkHead, LAST_CHUNK, serializeRequestHead, serializeTrailers } from "./serialize.ts";
import { stripHopByHop } from "./hop-by-hop.ts";
import type { UpstreamConnect } from "../upstream/connect.ts";

const enum Resp {
  Idle,
  Head,
  Body,
  Chunked,
  UntilClose,
}

export interface UpstreamConnectionOwner {
  readonly clock: Clock;
  readonly limits: Http1Limits;
  readonly connectTimeoutMs: number;
  readonly maxRequestsPerConnection: number;
  /** Connected this long, the connection takes no new request (Envoy's max_connection_duration); 0 = no limit. */
  readonly maxConnectionDurationMs: number;
  /** The connection is retired by a limit of the pool (counted in the cluster's stats). */
  retired(reason: RetireReason): void;
  /** The connection finished its request and may serve another. */
  release(conn: Http1UpstreamConnection): void;
  /** The connection is gone (closed, failed, handed to a tunnel). */
  forget(conn: Http1UpstreamConnection): void;
  onConnected(): void;
  /** The connect failed; `timeout`: connect_timeout passed. */
  onConnectFailure(timeout?: boolean): void;
  requestDone(): void;
  /** Opens the TCP connection (net.connect; tests inject one that never completes). */
  readonly connect: UpstreamConnect;
}

export class Http1UpstreamConnection implements UpstreamStream {
  readonly socket: net.Socket;
  connected = false;
  closed = false;
  /** Upgraded (101): the socket now carries a tunnel the pool no longer owns, but it is still a connection. */
  tunnel = false;
  /** The upstream closed or reset the connection (Envoy's destroy_remote), rather than the proxy. */
  closedByPeer = false;
  idleSince = 0;
  private served = 0;
  /**
   * Requests this connection may serve in all: max_requests_per_connection, and 0 once max_connection_duration
   * has passed. One comparison in finish() covers both, so a cluster without them pays nothing more.
   */
  private requestLimit: number;
  private durationTimer: Timer | undefined;
  private handler: UpstreamHandler | undefined;
  private request: UpstreamRequest | undefined;
  private requestWritten = false;
  private chunkedRequest = false;
  private resp = Resp.Idle;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private keepAlive = false;
  private pending: Buffer | undefined;
  private connectTimer: Timer | undefined;
  private paused = false;

  constructor(
    private readonly owner: UpstreamConnectionOwner,
    host: string,
    port: number,
    /** A connection for an upgrade becomes a tunnel: its bytes must come as 'data' events then. */
    forUpgrade = false,
  ) {
    this.requestLimit = owner.maxRequestsPerConnection > 0 ? owner.maxRequestsPerConnection : Infinity;
    this.socket = owner.connect(host, port, forUpgrade ? undefined : this.onSocketData);
    this.socket.on("connect", this.onConnect);
    if (forUpgrade) this.socket.on("data", this.onSocketData);
    this.socket.on("error", this.onError);
    this.socket.on("close", this.onClose);
    this.socket.on("end", this.onSocketEnd);
    if (owner.connectTimeoutMs > 0)
      this.connectTimer = owner.clock.setTimer(owner.connectTimeoutMs, this.onConnectTimeout);
  }

  /** Starts one request on this connection (connected or still connecting). */
  send(request: UpstreamRequest, handler: UpstreamHandler): void {
    this.request = request;
    this.handler = handler;
    this.requestWritten = false;
    this.resp = Resp.Head;
    this.served++;
    if (this.connected) this.writeRequest();
  }

  /** The current request is over, whichever way; the pool's `active` count drops exactly once per request. */
  private clearRequest(): void {
    if (this.handler !== undefined) this.owner.requestDone();
    this.handler = undefined;
    this.request = undefined;
  }

  // ---- UpstreamStream ------------------------------------------------------------------------------------------

  abort(): void {
    if (!this.handler) return;
    this.clearRequest();
    this.destroy();
  }

  resume(): void {
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
  }

  // ---- request ---------------------------------------------------------------------------------------------------

  private writeRequest(): void {
    const req = this.request!;
    const body = req.body;
    this.chunkedRequest = !body.empty && body.length < 0;
    const contentLength = body.empty ? (methodExpectsBody(req.method) ? 0 : -1) : body.length;
    let head = serializeRequestHead(req.method, req.path, req.authority, req.headers, {
      contentLength,
      chunked: this.chunkedRequest,
    });
    // An upgrade names itself in the hop-by-hop fields the codec removed on the way in (CONNECT is its own).
    if (req.upgrade !== undefined && req.upgrade !== "connect")
      head = head.slice(0, -2) + `connection: upgrade\r\nupgrade: ${req.upgrade}\r\n\r\n`;
    if (body.empty) {
      this.socket.write(head, "latin1");
      body.start(this.bodySink);
      return;
    }
    // With a body, its first bytes (often already buffered) join the head in one writev.
    this.socket.cork();
    this.socket.write(head, "latin1");
    body.start(this.bodySink);
    this.socket.uncork();
  }

  /** Receives the request body and writes it upstream; one object per connection, reused across requests. */
  private readonly bodySink: BodySink = {
    onData: (chunk) => this.writeBody(chunk),
    onEnd: (trailers) => this.endBody(trailers),
    onAbort: () => {
      // The downstream went away mid-body: the upstream request cannot be completed. The router learns of it
      // from the downstream side and aborts; here the connection is simply not reusable.
      this.clearRequest();
      this.destroy();
    },
  };

  private writeBody(chunk: Buffer): void {
    if (this.request === undefined || chunk.length === 0) return;
    let ok: boolean;
    if (this.chunkedRequest) {
      this.socket.write(encodeChunkHead(chunk.length), "latin1");
      this.socket.write(chunk);
      ok = this.socket.write("\r\n", "latin1");
    } else ok = this.socket.write(chunk);
    if (!ok) {
      const req = this.request;
      req.body.pause();
      this.socket.once("drain", () => {
        if (this.request === req) req.body.resume();
      });
    }
  }

  private endBody(trailers: Headers | undefined): void {
    if (this.request === undefined) return;
    if (this.chunkedRequest)
      this.socket.write(trailers && trailers.size > 0 ? "0\r\n" + serializeTrailers(trailers) : LAST_CHUNK, "latin1");
    this.requestWritten = true;
    if (this.resp === Resp.Idle) this.finish();
  }

  // ---- response --------------------------------------------------------------------------------------------------

  private readonly onSocketData = (chunk: Buffer): void => {
    if (this.pending !== undefined) {
      chunk = Buffer.concat([this.pending, chunk]);
      this.pending = undefined;
    }
    let offset = 0;
    while (offset < chunk.length && !this.closed) {
      const h = this.handler;
      if (h === undefined || this.resp === Resp.Idle) {
        // Bytes nobody asked for: the upstream is confused; the connection cannot be trusted any more.
        this.destroy();
        return;
      }
      if (this.resp === Resp.Head) {
        let head;
        try {
          head = parseResponseHead(chunk, offset, chunk.length, this.owner.limits, this.request!.method);
        } catch (err) {
          this.fail(err as Error);
          return;
        }
        if (head === null) {
          this.pending = offset === 0 ? chunk : chunk.subarray(offset);
          return;
        }
        offset += head.headBytes;
        if (head.status >= 100 && head.status < 200 && head.status !== 101) continue; // interim: skip
        const headers = head.headers;
        const upgrade = this.request!.upgrade;
        if (head.status === 101 || (upgrade === "connect" && head.status < 300)) {
          // Only a request that asked for an upgrade may switch protocols, to the protocol it asked for (a CONNECT
          // by a 2xx); any other 101 would turn a pooled connection into somebody's tunnel.
          const onUpgrade = h.onUpgrade;
          const wrong = wrongSwitch(onUpgrade === undefined ? undefined : upgrade, head);
          if (wrong !== undefined || onUpgrade === undefined) {
            this.fail(new Http1ParseError("UPSTREAM_UNEXPECTED_UPGRADE", 502, wrong ?? "101 nobody can take"));
            return;
          }
          stripHopByHop(headers, head.connectionTokens);
          this.clearRequest();
          this.closed = true;
          this.tunnel = true;
          this.detachSocket();
          this.owner.forget(this);
          onUpgrade.call(h, headers, this.socket, chunk.subarray(offset));
          return;
        }
        this.keepAlive = head.keepAlive;
        stripHopByHop(headers, head.connectionTokens);
        if (head.noBody) this.resp = Resp.Idle;
        else if (head.chunked) {
          this.resp = Resp.Chunked;
          this.decoder = new ChunkedDecoder();
        } else if (head.contentLength >= 0) {
          this.resp = head.contentLength === 0 ? Resp.Idle : Resp.Body;
          this.remaining = head.contentLength;
        } else {
          this.resp = Resp.UntilClose;
          this.keepAlive = false;
        }
        h.onHead(head.status, headers);
        if (this.resp === Resp.Idle && this.handler === h) this.complete(undefined, offset < chunk.length);
      } else if (this.resp === Resp.Body) {
        const avail = chunk.length - offset;
        const n = avail < this.remaining ? avail : this.remaining;
        const piece = offset === 0 && n === chunk.length ? chunk : chunk.subarray(offset, offset + n);
        offset += n;
        this.remaining -= n;
        if (this.remaining === 0) this.resp = Resp.Idle;
        if (!h.onData(piece)) this.pauseSocket();
        if (this.resp === Resp.Idle && this.handler === h) this.complete(undefined, offset < chunk.length);
      } else if (this.resp === Resp.Chunked) {
        const decoder = this.decoder!;
        let used: number;
        try {
          used = decoder.push(chunk, offset, chunk.length, this.chunkSink);
        } catch (err) {
          this.fail(err as Error);
          return;
        }
        offset += used;
        if (decoder.done) {
          this.resp = Resp.Idle;
          this.decoder = undefined;
          if (this.handler === h) this.complete(decoder.trailers, offset < chunk.length);
        } else if (used === 0) {
          this.pending = chunk.subarray(offset);
          return;
        }
      } else {
        // UntilClose: everything is body until the upstream closes.
        const piece = offset === 0 ? chunk : chunk.subarray(offset);
        offset = chunk.length;
        if (!h.onData(piece)) this.pauseSocket();
      }
    }
  };

  private readonly chunkSink = {
    data: (piece: Buffer): void => {
      const h = this.handler;
      if (h && !h.onData(piece)) this.pauseSocket();
    },
  };

  private pauseSocket(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  /**
   * The response is complete. `unread`: more bytes followed it in the same read. Nobody asked for them (a second
   * response, a body on a 204 or a HEAD response): the connection is closed, never handed to the next request,
   * which could take it inside onEnd below and read them as its answer (Envoy: "upstream sent data after response
   * complete"). A request that asked for an upgrade (or a CONNECT) and got none leaves its connection closed too.
   */
  private complete(trailers: Headers | undefined, unread: boolean): void {
    const h = this.handler!;
    this.resp = Resp.Idle;
    const req = this.request!;
    if (unread || req.upgrade !== undefined || req.method === "CONNECT") this.keepAlive = false;
    if (this.requestWritten) this.finish();
    else {
      // The upstream answered before the request body was sent whole: this connection cannot be reused.
      this.keepAlive = false;
      this.clearRequest();
      this.destroy();
    }
    h.onEnd(trailers);
  }

  /** Request written and response read: back to the pool, or closed. */
  private finish(): void {
    if (this.resp !== Resp.Idle || !this.requestWritten) return;
    this.clearRequest();
    if (this.keepAlive && !this.closed && this.served < this.requestLimit) {
      // The downstream's back-pressure belonged to the response that just ended (its last piece may have met a full
      // or already closed downstream socket, which nobody will drain): a connection paused now would send the next
      // request and never read its answer.
      if (this.paused) {
        this.paused = false;
        this.socket.resume();
      }
      this.idleSince = this.owner.clock.now();
      this.owner.release(this);
      return;
    }
    // Counted once, at the request that reached the limit (a duration already counted its own).
    if (this.requestLimit !== 0 && this.served >= this.requestLimit) this.owner.retired("max_requests");
    this.destroy();
  }

  private fail(err: Error): void {
    const h = this.handler;
    this.clearRequest();
    this.destroy();
    h?.onReset(err);
  }

  // ---- socket lifecycle ----------------------------------------------------------------------------------------

  private readonly onConnect = (): void => {
    this.connected = true;
    this.connectTimer?.cancel();
    this.connectTimer = undefined;
    const maxDuration = this.owner.maxConnectionDurationMs;
    // Envoy starts the duration when the connection is up, not when the connect begins.
    if (maxDuration > 0) this.durationTimer = this.owner.clock.setTimer(maxDuration, this.onMaxDuration);
    this.owner.onConnected();
    if (this.handler !== undefined) this.writeRequest();
  };

  /** max_connection_duration reached: an idle connection closes now, a busy one after its response. */
  private readonly onMaxDuration = (): void => {
    this.durationTimer = undefined;
    if (this.closed) return;
    this.requestLimit = 0;
    this.owner.retired("max_duration");
    if (this.handler === undefined) this.destroy();
  };

  private readonly onConnectTimeout = (): void => {
    this.connectTimer = undefined;
    if (this.connected) return;
    const h = this.handler;
    this.clearRequest();
    this.owner.onConnectFailure(true);
    this.destroy();
    h?.onConnectFailure("connect_timeout", new Error(`connect timeout after ${this.owner.connectTimeoutMs} ms`));
  };

  private readonly onError = (err: NodeJS.ErrnoException): void => {
    this.closedByPeer = true;
    const h = this.handler;
    this.clearRequest();
    if (!this.connected) {
      this.connectTimer?.cancel();
      this.owner.onConnectFailure();
      this.destroy();
      h?.onConnectFailure(err.code === "ECONNREFUSED" ? "connection_refused" : "connection_failure", err);
      return;
    }
    this.destroy();
    h?.onReset(err);
  };

  private readonly onSocketEnd = (): void => {
    if (this.resp === Resp.UntilClose && this.handler !== undefined) {
      this.keepAlive = false;
      this.requestWritten = true;
      this.complete(undefined, false);
      return;
    }
    this.onClose();
  };

  private readonly onClose = (): void => {
    const h = this.handler;
    this.clearRequest();
    if (!this.closed) {
      this.closed = true;
      this.closedByPeer = true;
      this.connectTimer?.cancel();
      this.durationTimer?.cancel();
      this.owner.forget(this);
    }
    this.socket.destroy();
    if (h) {
      if (!this.connected) h.onConnectFailure("connection_failure", new Error("upstream closed before connecting"));
      else h.onReset(new Error("upstream connection closed"));
    }
  };

  private detachSocket(): void {
    this.connectTimer?.cancel();
    this.durationTimer?.cancel();
    this.socket.off("data", this.onSocketData);
    this.socket.off("error", this.onError);
    this.socket.off("close", this.onClose);
    this.socket.off("end", this.onSocketEnd);
    if (this.paused) this.socket.resume();
  }

  destroy(): void {
    if (!this.closed) {
      this.closed = true;
      this.connectTimer?.cancel();
      this.durationTimer?.cancel();
      this.owner.forget(this);
    }
    this.socket.destroy();
  }
}

/** Why a switch of protocols (a 101, or a 2xx to a CONNECT) does not answer what was asked; undefined if it does. */
function wrongSwitch(
  asked: string | undefined,
  head: { status: number; upgrade: string | undefined },
): string | undefined {
  if (asked === undefined) return "101 to a request that asked no upgrade";
  if (asked === "connect") return head.status === 101 ? "101 to a CONNECT" : undefined;
  return head.upgrade === asked ? undefined : `101 to ${head.upgrade ?? "no protocol"} where ${asked} was asked`;
}

function methodExpectsBody(method: string): boolean {
  return method === "POST" || method === "PUT" || method === "PATCH";
}
