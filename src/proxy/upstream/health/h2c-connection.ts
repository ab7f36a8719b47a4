// One HTTP/2 prior-knowledge (h2c) connection to an endpoint, for the HTTP/2 and gRPC health checks: connected on
// first use, reconnected after it fails or the peer sends GOAWAY, and every failure turned into one reason string.

import http2 from "node:http2";
import type { ClientHttp2Session, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http2";
import { connectTarget, errorText, type ProbeTarget } from "./probe.ts";

export interface StreamHandlers {
  /** The response head (with a trailers-only gRPC answer, grpc-status is here). */
  onHeaders(headers: IncomingHttpHeaders): void;
  onData?(chunk: Buffer): void;
  onTrailers?(trailers: IncomingHttpHeaders): void;
  /** The response ended normally. */
  onEnd(): void;
  /** The stream or the connection failed before the end: connect failure, reset, GOAWAY, close. */
  onError(reason: string): void;
}

export class H2cConnection {
  private session: ClientHttp2Session | undefined;
  /** Why the current session failed, for the streams it takes down with it. */
  private sessionError: string | undefined;

  constructor(private readonly target: ProbeTarget) {}

  /** Opens a stream with `headers`, sends `body` (or none) and reports through `handlers` exactly once at the end. */
  request(headers: OutgoingHttpHeaders, body: Buffer | undefined, handlers: StreamHandlers): void {
    const session = this.session ?? this.connect();
    let settled = false;
    const settle = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      fn();
    };
    const stream = session.request(headers, { endStream: body === undefined });
    stream.on("response", (h) => handlers.onHeaders(h));
    stream.on("data", (chunk: Buffer) => handlers.onData?.(chunk));
    stream.on("trailers", (t) => handlers.onTrailers?.(t));
    stream.on("end", () => settle(() => handlers.onEnd()));
    stream.on("error", (err) => settle(() => handlers.onError(this.sessionError ?? errorText(err))));
    stream.on("close", () =>
      settle(() => handlers.onError(this.sessionError ?? `stream closed before the response (code ${stream.rstCode})`)),
    );
    if (body !== undefined) stream.end(body);
  }

  close(): void {
    this.session?.destroy();
    this.session = undefined;
  }

  private connect(): ClientHttp2Session {
    this.sessionError = undefined;
    // The URL only names the scheme: the socket comes from createConnection and :authority from each request.
    const session = http2.connect("http://health-check", {
      createConnection: () => connectTarget(this.target),
    });
    session.on("error", (err) => {
      this.sessionError = `connection failed: ${errorText(err)}`;
      this.forget(session);
    });
    session.on("goaway", () => this.forget(session));
    session.on("close", () => this.forget(session));
    this.session = session;
    return session;
  }

  /** A failed or closing session takes no new checks; the next one reconnects. */
  private forget(session: ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
  }
}
