// Access logging, the way Envoy does it: a logger = a compiled format + a sink. Sinks are shared per path (two
// listeners logging to one file share one handle and one batch, as Envoy's AccessLogManager does) and outlive
// configuration swaps; loggers are rebuilt with each configuration.

import type { Clock } from "../api/clock.ts";
import { createFormatter, type AccessLogConfig } from "./access-log-config.ts";
import type { AccessLogEntry, AccessLogFormatter } from "./access-log-format.ts";
import { AccessLogSink, type AccessLogSinkOptions } from "./access-log-sink.ts";

export * from "./access-log-format.ts";
export * from "./access-log-config.ts";
export * from "./access-log-sink.ts";

export class AccessLogger {
  constructor(
    readonly format: AccessLogFormatter,
    readonly sink: AccessLogSink,
  ) {}

  log(entry: AccessLogEntry): void {
    this.sink.write(this.format(entry));
  }
}

export class AccessLogManager {
  private readonly sinks = new Map<string, Promise<AccessLogSink>>();

  constructor(
    private readonly clock: Clock,
    private readonly options: AccessLogSinkOptions = {},
  ) {}

  /** The sink for `path`, opened on first use (rejects with TRELLIS_ACCESS_LOG_OPEN if it cannot be). */
  sink(path: string): Promise<AccessLogSink> {
    let sink = this.sinks.get(path);
    if (sink === undefined) {
      sink = AccessLogSink.open(path, this.clock, this.options);
      // A failed open is not cached: the next configuration may try again.
      sink.catch(() => this.sinks.delete(path));
      this.sinks.set(path, sink);
    }
    return sink;
  }

  async logger(config: AccessLogConfig): Promise<AccessLogger> {
    return new AccessLogger(createFormatter(config.format), await this.sink(config.path));
  }

  /** Builds every logger of one access_log list (all or nothing). */
  loggers(configs: readonly AccessLogConfig[]): Promise<AccessLogger[]> {
    return Promise.all(configs.map((c) => this.logger(c)));
  }

  async flushAll(): Promise<void> {
    await Promise.all([...this.sinks.values()].map(async (s) => (await s).flush()));
  }

  /** Flushes and closes every sink (on shutdown). */
  async closeAll(): Promise<void> {
    const sinks = [...this.sinks.values()];
    this.sinks.clear();
    await Promise.allSettled(sinks.map(async (s) => (await s).close()));
  }
}
