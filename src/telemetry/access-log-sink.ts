// Where access log lines go: a file (appended) or the process's stdout/stderr. A request only appends its line to
// an in-memory batch; the batch is written asynchronously when it passes 64 KiB or when the flush timer fires
// (Envoy's file_flush_interval, 1 s), so the event loop never waits for the disk on the request path.

import { open, type FileHandle } from "node:fs/promises";
import type { Clock, Timer } from "../api/clock.ts";
import { TrellisError } from "../api/errors.ts";

/** Something that takes whole batches of text. */
export interface LogOutput {
  write(data: string): Promise<void>;
  close(): Promise<void>;
}

export interface AccessLogSinkOptions {
  /** Flush a non-empty batch this long after its first line (default 1000 ms). */
  flushIntervalMs?: number;
  /** Flush at once when the batch reaches this many bytes (default 64 KiB). */
  flushBytes?: number;
  /** Drop lines (and count them) while this much is waiting to be written: a stuck disk must not eat memory. */
  maxPendingBytes?: number;
  /** Called for each failed write (the lines of that batch are lost), with the sink's path. */
  onError?: (err: Error, path: string) => void;
}

export class AccessLogSink {
  /** Lines refused because the backlog was full or the sink closed. */
  droppedLines = 0;
  /** Batches that failed to write. */
  writeErrors = 0;

  private batch: string[] = [];
  private batchBytes = 0;
  private timer: Timer | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;
  private readonly flushIntervalMs: number;
  private readonly flushBytes: number;
  private readonly maxPendingBytes: number;
  private readonly onTimer = () => {
    this.timer = undefined;
    void this.flush();
  };

  constructor(
    private readonly output: LogOutput,
    private readonly clock: Clock,
    private readonly options: AccessLogSinkOptions = {},
    /** Where the lines go, for messages. */
    readonly path = "",
  ) {
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.flushBytes = options.flushBytes ?? 64 * 1024;
    this.maxPendingBytes = options.maxPendingBytes ?? 16 * 1024 * 1024;
  }

  /**
   * Opens `path` for appending ("/dev/stdout" and "/dev/stderr" use the process's own streams). Fails with
   * TRELLIS_ACCESS_LOG_OPEN, at configuration time, if the file cannot be opened.
   */
  static async open(path: string, clock: Clock, options?: AccessLogSinkOptions): Promise<AccessLogSink> {
    return new AccessLogSink(await openLogOutput(path), clock, options, path);
  }

  /** Queues one line (it should end with "\n"). Never blocks, never throws. */
  write(line: string): void {
    if (this.closed || this.batchBytes > this.maxPendingBytes) {
      this.droppedLines++;
      return;
    }
    this.batch.push(line);
    // String length, not byte length: close enough for a threshold, and free.
    this.batchBytes += line.length;
    if (this.batchBytes >= this.flushBytes) void this.flush();
    else if (this.timer === undefined) this.timer = this.clock.setTimer(this.flushIntervalMs, this.onTimer);
  }

  /** Writes everything queued so far; resolves when it (and anything queued meanwhile) is written. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      this.timer.cancel();
      this.timer = undefined;
    }
    if (this.writing === undefined) {
      if (this.batch.length === 0) return Promise.resolve();
      this.writing = this.drain().finally(() => {
        this.writing = undefined;
      });
    }
    return this.writing;
  }

  /** Resolves when no write is in flight (without starting one): lets tests observe timer-driven flushes. */
  whenIdle(): Promise<void> {
    return this.writing ?? Promise.resolve();
  }

  /** Bytes queued and not yet handed to the output. */
  get bufferedBytes(): number {
    return this.batchBytes;
  }

  /** Flushes, then closes the file. Lines written afterwards are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.output.close();
  }

  /** One write in flight at a time; lines that arrive meanwhile go out in the next batch. */
  private async drain(): Promise<void> {
    while (this.batch.length > 0) {
      const data = this.batch.length === 1 ? this.batch[0]! : this.batch.join("");
      this.batch = [];
      this.batchBytes = 0;
      try {
        await this.output.write(data);
      } catch (err) {
        this.writeErrors++;
        try {
          this.options.onError?.(err instanceof Error ? err : new Error(String(err)), this.path);
        } catch {
          // A failing reporter must not stop the batches after this one (nor reject a flush nobody awaits).
        }
      }
    }
  }
}

export async function openLogOutput(path: string): Promise<LogOutput> {
  if (path === "/dev/stdout") return streamOutput(process.stdout);
  if (path === "/dev/stderr") return streamOutput(process.stderr);
  let handle: FileHandle;
  try {
    handle = await open(path, "a");
  } catch (err) {
    throw new TrellisError("TRELLIS_ACCESS_LOG_OPEN", `cannot open access log ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return {
    async write(data) {
      const buf = Buffer.from(data, "utf8");
      let offset = 0;
      while (offset < buf.length) {
        const { bytesWritten } = await handle.write(buf, offset, buf.length - offset);
        offset += bytesWritten;
      }
    },
    close: () => handle.close(),
  };
}

function streamOutput(stream: NodeJS.WriteStream): LogOutput {
  // A failed write (EPIPE: the reader of our stdout went away) is also emitted as 'error' on the process's stream,
  // and an 'error' nobody listens to ends the process. The write's callback reports it (the batch is counted as
  // failed); once the stream has failed, later batches fail at once instead of writing into a destroyed stream.
  let failed: Error | undefined;
  stream.on("error", (err) => void (failed ??= err));
  return {
    write: (data) =>
      failed !== undefined || stream.destroyed
        ? Promise.reject(failed ?? new Error("stream closed"))
        : new Promise((resolve, reject) => stream.write(data, (err) => (err ? reject(err) : resolve()))),
    // The process's own streams stay open.
    close: () => Promise.resolve(),
  };
}
