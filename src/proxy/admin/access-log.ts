// The admin server's access log (Envoy's `admin.access_log`, and the older `admin.access_log_path` in Envoy's
// default format): one line per request the admin server answers. Configured in the bootstrap; checked when the
// proxy is built (a bad entry is refused with its field path) and opened before the admin server listens.

import type { IncomingMessage } from "node:http";
import type { Clock } from "../../api/clock.ts";
import { ConfigError } from "../../api/errors.ts";
import type { AdminConfig } from "../../api/xds/types.ts";
import {
  type AccessLogger,
  DEFAULT_ACCESS_LOG_FORMAT,
  parseAccessLogConfig,
  type AccessLogConfig,
  type AccessLogManager,
} from "../../telemetry/access-log.ts";

/** The admin server's loggers' configurations; throws ConfigError naming the field when one is unusable. */
export function adminAccessLogConfigs(admin: AdminConfig, source: string): AccessLogConfig[] {
  const parsed = parseAccessLogConfig(admin.accessLog, "admin.access_log");
  if (!parsed.ok) throw new ConfigError(source, parsed.error);
  const configs = [...parsed.value];
  if (admin.accessLogPath !== undefined)
    configs.push({
      name: "admin.access_log_path",
      path: admin.accessLogPath,
      format: { kind: "text", format: DEFAULT_ACCESS_LOG_FORMAT, omitEmptyValues: false },
    });
  return configs;
}

/** What the admin server calls once per answered request. */
export type AdminRequestLog = (req: IncomingMessage, status: number, bytesSent: number, startMs: number) => void;

/** Opens the sinks and returns the per-request callback (undefined: nothing to log, nothing is formatted). */
export async function openAdminAccessLog(
  configs: readonly AccessLogConfig[],
  manager: AccessLogManager,
  clock: Clock,
): Promise<AdminRequestLog | undefined> {
  if (configs.length === 0) return undefined;
  const loggers: AccessLogger[] = await manager.loggers(configs);
  return (req, status, bytesSent, startMs) => {
    const now = clock.now();
    const headers = { get: (name: string) => headerOf(req, name) };
    const socket = req.socket;
    const entry = {
      startWallMs: clock.wallNow() - (now - startMs),
      method: req.method ?? "",
      path: req.url ?? "/",
      authority: req.headers.host,
      protocol: `HTTP/${req.httpVersion}`,
      responseCode: status,
      responseFlags: "",
      bytesReceived: 0,
      bytesSent,
      durationMs: Math.round(now - startMs),
      requestHeaders: headers,
      downstreamRemoteAddress: `${socket.remoteAddress ?? ""}:${socket.remotePort ?? 0}`,
      downstreamLocalAddress: `${socket.localAddress ?? ""}:${socket.localPort ?? 0}`,
    };
    for (const logger of loggers) logger.log(entry);
  };
}

function headerOf(req: IncomingMessage, name: string): string | undefined {
  const lower = name.toLowerCase();
  if (lower === ":method") return req.method;
  if (lower === ":path") return req.url;
  if (lower === ":authority") return req.headers.host;
  const value = req.headers[lower];
  return Array.isArray(value) ? value.join(",") : value;
}
