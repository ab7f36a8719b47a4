// Helpers shared by the HTTP/2 tests (not shipped code paths): a listener that hands accepted sockets to an
// H2Downstream, a RequestBody over buffers, a recording UpstreamHandler, and a pass-through proxy handler.

import net from "node:net";
import type { BodySink, Handler, RequestBody } from "../http/exchange.ts";
import type { Headers } from "../http/headers.ts";
import { sendLocalReply } from "../http/local-reply.ts";
import type { ConnectFailure, ConnectionPool, UpstreamHandler, UpstreamStream } from "../upstream/pool.ts";
import type { H2Downstream } from "./downstream.ts";

/** Listens on 127.0.0.1:0; each connection's first chunk is read (as a sniffing listener would) and replayed. */
export async function listenWith(downstream: H2Downstream): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer((socket) => {
    socket.once("data", (first: Buffer) => {
      socket.pause();
      downstream.accept(socket, first);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { port: (server.address() as net.AddressInfo).port, server };
}

/** A request body delivered from memory, chunk by chunk, honouring pause() / resume(). */
export class BufferBody implements RequestBody {
  readonly empty: boolean;
  readonly length: number;
  pauses = 0;
  private sink: BodySink | undefined;
  private paused = false;
  private next = 0;
  private scheduled = false;

  constructor(
    private readonly chunks: Buffer[],
    private readonly trailers?: Headers,
  ) {
    this.empty = chunks.length === 0 && trailers === undefined;
    this.length = trailers === undefined ? chunks.reduce((n, c) => n + c.length, 0) : -1;
  }

  start(sink: BodySink): void {
    this.sink = sink;
    this.schedule();
  }

  pause(): void {
    if (!this.paused) this.pauses++;
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.sink === undefined) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    const sink = this.sink!;
    while (!this.paused && this.next < this.chunks.length) sink.onData(this.chunks[this.next++]!);
    if (!this.paused && this.next === this.chunks.length) {
      this.next++;
      sink.onEnd(this.trailers);
    }
  }
}

/** Records what an UpstreamHandler is told; `done` settles on the first terminal callback. */
export class RecordingHandler implements UpstreamHandler {
  status = 0;
  headers: Headers | undefined;
  trailers: Headers | undefined;
  chunks: Buffer[] = [];
  events: string[] = [];
  failure: { reason: ConnectFailure; err: Error | undefined } | undefined;
  resetError: (Error & { code?: string; rstCode?: number }) | undefined;
  /** onData returns this (false pauses the upstream). */
  accept = true;
  readonly done: Promise<string>;
  readonly headReceived: Promise<void>;
  private settle!: (what: string) => void;
  private gotHead!: () => void;

  constructor() {
    this.done = new Promise((resolve) => (this.settle = resolve));
    this.headReceived = new Promise((resolve) => (this.gotHead = resolve));
  }

  get body(): Buffer {
    return Buffer.concat(this.chunks);
  }

  onConnectFailure(reason: ConnectFailure, err: Error | undefined): void {
    this.events.push("connectFailure");
    this.failure = { reason, err };
    this.settle("connectFailure");
  }
  onHead(status: number, headers: Headers): void {
    this.events.push("head");
    this.status = status;
    this.headers = headers;
    this.gotHead();
  }
  onData(chunk: Buffer): boolean {
    if (this.events[this.events.length - 1] !== "data") this.events.push("data");
    this.chunks.push(chunk);
    return this.accept;
  }
  onEnd(trailers: Headers | undefined): void {
    this.events.push("end");
    this.trailers = trailers;
    this.settle("end");
  }
  onReset(err: Error): void {
    this.events.push("reset");
    this.resetError = err;
    this.settle("reset");
  }
}

/** The smallest proxy: every exchange goes to `pool`, the response comes back as it arrives. */
export function passThrough(pool: ConnectionPool): Handler {
  return (ex) => {
    let up: UpstreamStream | undefined = undefined;
    const handler: UpstreamHandler = {
      onConnectFailure: (reason) => sendLocalReply(ex, 503, "UF", `upstream_connect_failure:${reason}`),
      onHead: (status, headers) => ex.response.head(status, headers),
      onData: (chunk) => {
        const ok = ex.response.data(chunk);
        if (!ok) ex.response.onDrain(() => up?.resume());
        return ok;
      },
      onEnd: (trailers) => ex.response.end(trailers),
      onReset: (err) => sendLocalReply(ex, 503, "UR", `upstream_reset:${err.message}`),
    };
    up = pool.request(ex, handler);
    ex.response.onAbort(() => up?.abort());
  };
}
