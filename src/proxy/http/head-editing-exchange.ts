// An exchange seen through a filter that edits the response head as it goes out (Envoy's encodeHeaders): the
// Exchange is its own ResponseSink, so the edit is made by a thin delegate around it that the rest of the chain sees
// instead. It costs one object per request, and only where a filter needs it (x-ratelimit headers, CORS).

import type { Duplex } from "node:stream";
import type { Downstream, Exchange, HttpProtocol, RequestBody, ResponseSink, StreamInfo } from "./exchange.ts";
import type { Headers } from "./headers.ts";

export class HeadEditingExchange implements Exchange, ResponseSink {
  readonly response: ResponseSink = this;
  readonly upgradeTo: ((headers: Headers, upstream: Duplex, head: Buffer) => void) | undefined;

  constructor(
    private readonly ex: Exchange,
    /** Called with the response head's headers (a 101's too) just before they go out. */
    private readonly edit: (headers: Headers) => void,
  ) {
    const inner = ex.response;
    this.upgradeTo =
      inner.upgradeTo === undefined
        ? undefined
        : (headers, upstream, head) => {
            this.edit(headers);
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

  // ---- the response: the wrapped sink's, with the head edited ----
  get headSent(): boolean {
    return this.ex.response.headSent;
  }
  head(status: number, headers: Headers): void {
    this.edit(headers);
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
}
