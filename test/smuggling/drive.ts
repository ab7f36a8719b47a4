// Drives raw bytes through the HTTP/1.1 codec the way a server connection does: head, then the body framing the
// head chose (Content-Length, chunked, or none), then the next head; after CONNECT or an Upgrade request the rest is
// tunnel bytes. The bytes may arrive whole or in any number of pieces; the verdict must not depend on that.

import { ChunkedDecoder } from "../../src/proxy/http1/chunked.ts";
import { Http1ParseError } from "../../src/proxy/http1/errors.ts";
import { DEFAULT_HTTP1_LIMITS, type Http1Limits } from "../../src/proxy/http1/limits.ts";
import { HeadProgress, parseRequestHead, type RequestHead } from "../../src/proxy/http1/request-head.ts";

export interface DrivenRequest {
  head: RequestHead;
  body: Buffer;
  trailers: string[] | undefined;
}

export interface Verdict {
  requests: DrivenRequest[];
  /** The error that stopped parsing, if any. */
  error: Http1ParseError | undefined;
  /** Bytes received but not yet part of a complete message (a partial head or body) when the input ended. */
  pending: number;
  /** Bytes after a CONNECT or Upgrade request: tunnel data, not parsed as HTTP. */
  tunnel: number;
}

const HEAD = 0;
const BODY_LENGTH = 1;
const BODY_CHUNKED = 2;
const TUNNEL = 3;

class Driver {
  readonly requests: DrivenRequest[] = [];
  private state = HEAD;
  private buffered: Buffer = Buffer.alloc(0);
  private head: RequestHead | undefined;
  private bodyParts: Buffer[] = [];
  private remaining = 0;
  private readonly decoder = new ChunkedDecoder();
  /** As the server connection does: a head split across reads resumes where its parse stopped. */
  private readonly progress = new HeadProgress();
  tunnel = 0;
  // One sink object for the whole connection, as the real server keeps one.
  private readonly sink = { data: (chunk: Buffer): void => void this.bodyParts.push(Buffer.from(chunk)) };

  constructor(private readonly limits: Http1Limits) {}

  get pending(): number {
    if (this.state === BODY_LENGTH || this.state === BODY_CHUNKED) return this.buffered.length + 1; // mid-body
    return this.buffered.length;
  }

  /** Feeds one piece; throws Http1ParseError (or anything else the codec throws, which the tests treat as a bug). */
  feed(piece: Buffer): void {
    if (this.state === TUNNEL) {
      this.tunnel += piece.length;
      return;
    }
    let buf = this.buffered.length === 0 ? piece : Buffer.concat([this.buffered, piece]);
    let pos = 0;
    while (pos < buf.length) {
      if (this.state === HEAD) {
        const head = parseRequestHead(buf, pos, buf.length, this.limits, this.progress);
        if (head === null) break;
        pos += head.headBytes;
        this.progress.reset();
        this.head = head;
        this.bodyParts = [];
        if (head.method === "CONNECT" || head.upgrade !== undefined) {
          this.complete(undefined);
          this.state = TUNNEL;
          this.tunnel += buf.length - pos;
          pos = buf.length;
        } else if (head.chunked) {
          this.decoder.reset();
          this.state = BODY_CHUNKED;
        } else if (head.contentLength > 0) {
          this.remaining = head.contentLength;
          this.state = BODY_LENGTH;
        } else this.complete(undefined);
      } else if (this.state === BODY_LENGTH) {
        const n = Math.min(this.remaining, buf.length - pos);
        this.bodyParts.push(Buffer.from(buf.subarray(pos, pos + n)));
        pos += n;
        this.remaining -= n;
        if (this.remaining === 0) this.complete(undefined);
      } else {
        pos += this.decoder.push(buf, pos, buf.length, this.sink);
        if (this.decoder.done) this.complete(this.decoder.trailers?.list.slice());
      }
    }
    buf = buf.subarray(pos);
    this.buffered = Buffer.from(buf);
  }

  /**
   * The input ended: a partial head is judged whole, as the connection judges it once a line end or a size limit
   * arrives (a resumed parse looks again only then). Throws like feed.
   */
  finish(): void {
    if (this.state === HEAD && this.buffered.length > 0)
      parseRequestHead(this.buffered, 0, this.buffered.length, this.limits);
  }

  private complete(trailers: string[] | undefined): void {
    this.requests.push({ head: this.head!, body: Buffer.concat(this.bodyParts), trailers });
    this.bodyParts = [];
    if (this.state !== TUNNEL) this.state = HEAD;
  }
}

/** Feeds `pieces` in order; stops at the first Http1ParseError. Any other exception propagates. */
export function drive(pieces: readonly Buffer[], limits: Http1Limits = DEFAULT_HTTP1_LIMITS): Verdict {
  const d = new Driver(limits);
  let error: Http1ParseError | undefined;
  try {
    for (const p of pieces) d.feed(p);
    d.finish();
  } catch (err) {
    if (!(err instanceof Http1ParseError)) throw err;
    error = err;
  }
  return { requests: d.requests, error, pending: error ? 0 : d.pending, tunnel: d.tunnel };
}

/** Splits `buf` at the given offsets (sorted, within bounds) into pieces. */
export function splitAt(buf: Buffer, offsets: readonly number[]): Buffer[] {
  const out: Buffer[] = [];
  let prev = 0;
  for (const o of offsets) {
    out.push(buf.subarray(prev, o));
    prev = o;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** A comparable summary of a verdict: what was parsed and how it ended. */
export function summarize(v: Verdict): unknown {
  return {
    requests: v.requests.map((r) => ({
      method: r.head.method,
      target: r.head.target,
      versionMinor: r.head.versionMinor,
      headers: r.head.headers.list,
      host: r.head.host,
      contentLength: r.head.contentLength,
      chunked: r.head.chunked,
      keepAlive: r.head.keepAlive,
      upgrade: r.head.upgrade,
      headBytes: r.head.headBytes,
      body: r.body.toString("latin1"),
      trailers: r.trailers,
    })),
    error: v.error ? { code: v.error.code, status: v.error.status } : undefined,
    pending: v.pending > 0,
    tunnel: v.tunnel,
  };
}
