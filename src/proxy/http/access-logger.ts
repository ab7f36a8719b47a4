// Access logs of an HTTP connection manager (`access_log` in Envoy's HttpConnectionManager): the configuration is
// parsed and its formats compiled when configuration arrives; sinks are opened before the listener binds; an
// exchange becomes one line when it completes. Nothing is formatted when no log is configured.

import type { Clock } from "../../api/clock.ts";
import { ConfigError } from "../../api/errors.ts";
import {
  AccessLogManager,
  createFormatter,
  parseAccessLogConfig,
  type AccessLogConfig,
  type AccessLogEntry,
  type AccessLogFormatter,
  type AccessLogSink,
} from "../../telemetry/access-log.ts";
import type { Exchange } from "./exchange.ts";

export interface ExchangeLogger {
  log(ex: Exchange, clock: Clock): void;
  /** A line for something that never became an exchange (a request the codec refused). */
  logEntry(entry: AccessLogEntry): void;
}

/** Parses the raw `access_log` entries of one connection manager; throws ConfigError naming the field. */
export function parseAccessLogs(raw: readonly Record<string, unknown>[], source: string): AccessLogConfig[] {
  if (raw.length === 0) return [];
  const parsed = parseAccessLogConfig(raw, "access_log");
  if (!parsed.ok) throw new ConfigError(source, parsed.error);
  return parsed.value;
}

/** A logger whose sink is opened later (before the listener binds); until then it drops nothing because no traffic flows. */
export class PendingAccessLogger implements ExchangeLogger {
  private sink: AccessLogSink | undefined;
  private readonly format: AccessLogFormatter;

  constructor(readonly config: AccessLogConfig) {
    this.format = createFormatter(config.format);
  }

  async open(manager: AccessLogManager): Promise<void> {
    this.sink = await manager.sink(this.config.path);
  }

  log(ex: Exchange, clock: Clock): void {
    const sink = this.sink;
    if (sink === undefined) return;
    sink.write(this.format(exchangeEntry(ex, clock)));
  }

  logEntry(entry: AccessLogEntry): void {
    this.sink?.write(this.format(entry));
  }
}

export function exchangeEntry(ex: Exchange, clock: Clock): AccessLogEntry {
  const info = ex.info;
  const d = ex.downstream;
  const now = clock.now();
  return {
    startWallMs: clock.wallNow() - (now - info.startMs),
    method: ex.method,
    path: ex.path,
    originalPath: info.originalPath,
    scheme: ex.scheme,
    authority: ex.authority,
    protocol: ex.protocol,
    responseCode: info.responseCode,
    responseFlags: info.responseFlags,
    responseCodeDetails: info.details || (info.responseCode > 0 ? "via_upstream" : undefined),
    bytesReceived: info.bytesReceived,
    bytesSent: info.bytesSent,
    durationMs: Math.round(now - info.startMs),
    upstreamServiceTimeMs: info.upstreamServiceTimeMs,
    requestHeaders: ex.headers,
    responseHeaders: info.responseHeaders,
    upstreamHost: info.upstreamHost,
    // Spaces as underscores, as Envoy's formatter writes it.
    upstreamTransportFailureReason: info.upstreamTransportFailureReason?.replace(/ /g, "_"),
    upstreamCluster: info.clusterName,
    routeName: info.routeName,
    attempts: info.attempts,
    downstreamRemoteAddress: `${d.remoteAddress}:${d.remotePort}`,
    ...(d.direct === undefined ? {} : { downstreamDirectRemoteAddress: `${d.direct.address}:${d.direct.port}` }),
    downstreamLocalAddress: `${d.localAddress}:${d.localPort}`,
  };
}

export { AccessLogManager };
