// enable_x_ratelimit_headers (DRAFT_VERSION_03): every response on a limited route, forwarded or limited, tells the
// client its bucket — x-ratelimit-limit (max_tokens), x-ratelimit-remaining (tokens left when the response head
// goes out, as Envoy computes them in encodeHeaders) and x-ratelimit-reset (seconds to the next fill).
// The Exchange is its own ResponseSink, so the headers are added by a thin delegate around it that the rest of the
// chain sees instead. It costs one object per request, and only where the option is on.

import type { Duplex } from "node:stream";
import type { Downstream, Exchange, HttpProtocol, RequestBody, ResponseSink, StreamInfo } from "../../http/exchange.ts";
import type { Headers } from "../../http/headers.ts";
import type { TokenBucket } from "./token-bucket.ts";

export class XRateLimitExchange implements Exchange, ResponseSink {
  readonly response: ResponseSink = this;
  readonly upgradeTo: ((headers: Headers, upstream: Duplex, head: Buffer) => void) | undefined;

  constructor(
    private readonly ex: Exchange,
    private readonly bucket: TokenBucket,
  ) {
    const inner = ex.response;
    this.upgradeTo =
      inner.upgradeTo === undefined
        ? undefined
        : (headers, upstream, head) => {
            this.addHeaders(headers);
            inner.upgradeTo!(headers, upstream, head);
          };
  }

  // ---- the request: the wrapped exchange's, read and written through ----
  get protocol(): HttpProtocol {
    return this.ex.protocol;
  }
  get method(): string {
    return this.ex.method;
  }
  set method(v: string) {
    this.ex.method = v;
  }
  get path(): string {
    return this.ex.path;
  }
  set path(v: string) {
    this.ex.path = v;
  }
  get authority(): string {
    return this.ex.authority;
  }
  set authority(v: string) {
    this.ex.authority = v;
  }
  get scheme(): string {
    return this.ex.scheme;
  }
  set scheme(v: string) {
    this.ex.scheme = v;
  }
  get headers(): Headers {
    return this.ex.headers;
  }
  setStreamIdleTimeout(ms: number): void {
    this.ex.setStreamIdleTimeout(ms);
  }
  get downstream(): Downstream {
    return this.ex.downstream;
  }
  get info(): StreamInfo {
    return this.ex.info;
  }
  get upgrade(): string | undefined {
    return this.ex.upgrade;
  }
  get body(): RequestBody {
    return this.ex.body;
  }

  // ---- the response: the wrapped sink's, with the headers added to the head ----
  get headSent(): boolean {
    return this.ex.response.headSent;
  }
  head(status: number, headers: Headers): void {
    this.addHeaders(headers);
    this.ex.response.head(status, headers);
  }
  data(chunk: Buffer): boolean {
    return this.ex.response.data(chunk);
  }
  onDrain(cb: () => void): void {
    this.ex.response.onDrain(cb);
  }
  end(trailers?: Headers): void {
    this.ex.response.end(trailers);
  }
  reset(): void {
    this.ex.response.reset();
  }
  onAbort(cb: () => void): void {
    this.ex.response.onAbort(cb);
  }

  private addHeaders(headers: Headers): void {
    const b = this.bucket;
    headers.set("x-ratelimit-limit", String(b.maxTokens));
    headers.set("x-ratelimit-remaining", String(b.remaining()));
    headers.set("x-ratelimit-reset", String(b.resetSeconds()));
  }
}
