// A request body that several upstream requests can read: the attempts of a retried request one after another,
// and a mirror beside the primary. The downstream body is read once; what has arrived is kept (up to a limit) so a
// later reader is replayed the bytes it missed and then follows the live stream.
//
// Back-pressure comes from the primary reader only (the current attempt): a mirror never slows the primary, it is
// handed the same chunks and its own socket buffers them. Past the limit nothing more is kept and no new reader can
// start (the request can no longer be retried), but readers already started keep receiving the live stream.

import { TrellisError } from "../../api/errors.ts";
import type { BodySink, RequestBody } from "./exchange.ts";
import type { Headers } from "./headers.ts";

/** The body of a request without one: every reader is told at once that it has ended. */
export const EMPTY_BODY: RequestBody = {
  empty: true,
  length: 0,
  start(sink: BodySink): void {
    sink.onEnd(undefined);
  },
  pause(): void {},
  resume(): void {},
};

export class ReplayableBody implements BodySink {
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  /** More arrived than the limit allows keeping: new readers cannot be replayed the whole body. */
  private overflowed = false;
  private started = false;
  private ended = false;
  private trailers: Headers | undefined;
  private abortError: Error | undefined;
  private readonly readers: BodyReader[] = [];
  /** The reader whose pause/resume reaches the downstream. */
  private primary: BodyReader | undefined;

  constructor(
    private readonly source: RequestBody,
    private readonly limitBytes: number,
  ) {}

  /** Whether a new reader can still be given the whole body (false once past the limit or aborted). */
  get replayable(): boolean {
    return !this.overflowed && this.abortError === undefined;
  }

  /**
   * A reader for one upstream request. `primary` readers replace the previous primary (a retry supersedes the
   * attempt before it, which is detached and hears nothing more).
   */
  reader(primary: boolean): RequestBody {
    const reader = new BodyReader(this, this.source.empty, this.source.length);
    if (primary) {
      if (this.primary !== undefined) this.detach(this.primary);
      this.primary = reader;
    }
    return reader;
  }

  // ---- called by readers ---------------------------------------------------------------------------------------

  /** @internal */ startReader(reader: BodyReader, sink: BodySink): void {
    reader.sink = sink;
    if (this.overflowed) {
      // A reader that starts late (a mirror whose connection took a while) cannot be given the whole body.
      sink.onAbort(new BodyOverflowError(this.limitBytes));
      return;
    }
    for (const chunk of this.kept) sink.onData(chunk);
    if (this.ended) {
      sink.onEnd(this.trailers);
      return;
    }
    if (this.abortError !== undefined) {
      sink.onAbort(this.abortError);
      return;
    }
    this.readers.push(reader);
    if (!this.started) {
      this.started = true;
      this.source.start(this);
    }
  }

  /** @internal */ pauseFrom(reader: BodyReader): void {
    if (reader === this.primary) this.source.pause();
  }

  /** @internal */ resumeFrom(reader: BodyReader): void {
    if (reader === this.primary) this.source.resume();
  }

  /** Stops delivering to `reader` (its upstream request was abandoned). */
  detach(reader: RequestBody): void {
    const i = this.readers.indexOf(reader as BodyReader);
    if (i >= 0) this.readers.splice(i, 1);
    if (reader === this.primary) {
      this.primary = undefined;
      // A paused abandoned attempt must not hold the downstream back.
      this.source.resume();
    }
  }

  // ---- BodySink: the downstream body ---------------------------------------------------------------------------

  onData(chunk: Buffer): void {
    if (!this.overflowed) {
      if (this.keptBytes + chunk.length <= this.limitBytes) {
        this.kept.push(chunk);
        this.keptBytes += chunk.length;
      } else {
        this.overflowed = true;
        this.kept.length = 0;
        this.keptBytes = 0;
      }
    }
    const readers = this.readers;
    for (let i = 0; i < readers.length; i++) readers[i]!.sink!.onData(chunk);
  }

  onEnd(trailers: Headers | undefined): void {
    this.ended = true;
    this.trailers = trailers;
    for (const r of this.readers.splice(0)) r.sink!.onEnd(trailers);
  }

  onAbort(err: Error): void {
    this.abortError = err;
    for (const r of this.readers.splice(0)) r.sink!.onAbort(err);
  }
}

export class BodyOverflowError extends TrellisError {
  constructor(limitBytes: number) {
    super(
      "TRELLIS_BODY_OVERFLOW",
      `the request body passed the ${limitBytes}-byte buffer limit before this upstream request could start`,
    );
  }
}

class BodyReader implements RequestBody {
  sink: BodySink | undefined;

  constructor(
    private readonly body: ReplayableBody,
    readonly empty: boolean,
    readonly length: number,
  ) {}

  start(sink: BodySink): void {
    this.body.startReader(this, sink);
  }

  pause(): void {
    this.body.pauseFrom(this);
  }

  resume(): void {
    this.body.resumeFrom(this);
  }
}
