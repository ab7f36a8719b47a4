// Test support: an Exchange whose response side records what a codec would be asked to send.

import type { Exchange, ResponseSink } from "./exchange.ts";
import { newStreamInfo } from "./exchange.ts";
import type { Headers } from "./headers.ts";

/** A ResponseSink that records calls, as a codec would see them. */
export class RecordingSink implements ResponseSink {
  headSent = false;
  calls: string[] = [];
  status = 0;
  headers: Headers | undefined;
  body = "";
  head(status: number, headers: Headers): void {
    this.headSent = true;
    this.status = status;
    this.headers = headers;
    this.calls.push("head");
  }
  data(chunk: Buffer): boolean {
    this.body += chunk.toString();
    this.calls.push("data");
    return true;
  }
  onDrain(): void {}
  end(): void {
    this.calls.push("end");
  }
  reset(): void {
    this.calls.push("reset");
  }
  onAbort(): void {}
}

export function recordingExchange(method: string, headers: Headers): Exchange & { response: RecordingSink } {
  const response = new RecordingSink();
  return {
    protocol: "HTTP/1.1",
    method,
    path: "/",
    authority: "a",
    scheme: "http",
    headers,
    downstream: { remoteAddress: "", remotePort: 0, localAddress: "", localPort: 0, tls: false },
    info: newStreamInfo(0),
    upgrade: undefined,
    body: { empty: true, length: 0, start: () => {}, pause: () => {}, resume: () => {} },
    response,
    setStreamIdleTimeout: () => {},
  };
}
