// The HTTP health check (Envoy's HttpHealthCheckerImpl): a request for `path` with Host `host` (or the cluster's
// name) and user-agent Envoy/HC; a status in expected_statuses passes, one in retriable_statuses is a failure that
// counts toward unhealthy_threshold, any other fails at once. HTTP/1.1 through node:http, or HTTP/2 with prior
// knowledge (h2c) through node:http2: health checks are off the hot path, so node's clients are good enough here.
// With reuse_connection one connection per endpoint is kept across checks; a timeout always drops it.

import http from "node:http";
import type { HttpHealthCheck, StatusRange } from "../../../api/xds/types.ts";
import { H2cConnection } from "./h2c-connection.ts";
import {
  connectTarget,
  PASSED,
  activeFailure,
  errorText,
  networkFailure,
  type CheckResult,
  type Probe,
  type ProbeTarget,
} from "./probe.ts";

/** Envoy's user-agent on health checks; upstreams filter their access logs on it. */
export const HEALTH_CHECK_USER_AGENT = "Envoy/HC";

/** The status decides: expected passes, retriable counts toward the threshold, anything else fails at once. */
export function classifyStatus(check: HttpHealthCheck, status: number): CheckResult {
  if (inRanges(check.expectedStatuses, status)) return PASSED;
  return activeFailure(`HTTP status ${status}`, inRanges(check.retriableStatuses, status));
}

function inRanges(ranges: readonly StatusRange[], status: number): boolean {
  return ranges.some((r) => status >= r.start && status < r.end);
}

/** user-agent, then request_headers_to_add (by append_action), then request_headers_to_remove; built once. */
export function checkHeaders(check: HttpHealthCheck): Record<string, string[]> {
  const headers: Record<string, string[]> = { "user-agent": [HEALTH_CHECK_USER_AGENT] };
  for (const { key, value, appendAction } of check.requestHeadersToAdd) {
    const existing = headers[key];
    if (appendAction === "APPEND_IF_EXISTS_OR_ADD") headers[key] = [...(existing ?? []), value];
    else if (appendAction === "ADD_IF_ABSENT") headers[key] ??= [value];
    else if (appendAction === "OVERWRITE_IF_EXISTS_OR_ADD" || existing !== undefined) headers[key] = [value];
  }
  for (const name of check.requestHeadersToRemove) delete headers[name];
  return headers;
}

export class Http1Probe implements Probe {
  private readonly agent: http.Agent | undefined;
  private readonly headers: Record<string, string | string[]>;
  private request: http.ClientRequest | undefined;

  constructor(
    private readonly target: ProbeTarget,
    private readonly config: HttpHealthCheck,
    host: string,
    reuse: boolean,
  ) {
    // maxSockets 1: one connection per endpoint, kept alive between checks.
    // The agent sets TCP keepalive on the sockets it keeps (its keepAliveMsecs, 1 s by default): the cluster's
    // tcp_keepalive delay when it has one.
    const keepAliveMsecs = target.keepAliveMs !== undefined && target.keepAliveMs > 0 ? target.keepAliveMs : undefined;
    this.agent = reuse
      ? new http.Agent({ keepAlive: true, maxSockets: 1, ...(keepAliveMsecs !== undefined ? { keepAliveMsecs } : {}) })
      : undefined;
    // The connection is made here so it carries the cluster's tcp_keepalive, reused or not.
    if (this.agent !== undefined) this.agent.createConnection = () => connectTarget(target);
    this.headers = { host, ...checkHeaders(config) };
    if (!reuse) this.headers.connection = "close";
  }

  check(done: (result: CheckResult) => void): void {
    let finished = false;
    const finish = (result: CheckResult): void => {
      if (finished) return;
      finished = true;
      this.request = undefined;
      done(result);
    };
    const req = http.request({
      host: this.target.address,
      port: this.target.port,
      method: this.config.method,
      path: this.config.path,
      headers: this.headers,
      setHost: false,
      // Without reuse, a fresh connection per check that closes after the answer.
      agent: this.agent ?? false,
      ...(this.agent === undefined ? { createConnection: () => connectTarget(this.target) } : {}),
    });
    this.request = req;
    req.on("error", (err) => finish(networkFailure(`connection failed: ${errorText(err)}`)));
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      res.on("error", (err) => finish(networkFailure(errorText(err))));
      res.on("aborted", () => finish(networkFailure("connection closed before the response ended")));
      // The verdict waits for the whole response, as Envoy's does; the body itself is not inspected.
      res.on("end", () => finish(classifyStatus(this.config, status)));
      res.resume();
    });
    req.end();
  }

  abort(): void {
    this.request?.destroy();
    this.request = undefined;
  }

  close(): void {
    this.abort();
    this.agent?.destroy();
  }
}

export class Http2Probe implements Probe {
  private readonly connection: H2cConnection;
  private readonly headers: Record<string, string | string[]>;

  constructor(
    target: ProbeTarget,
    private readonly config: HttpHealthCheck,
    host: string,
    private readonly reuse: boolean,
  ) {
    this.connection = new H2cConnection(target);
    this.headers = {
      ":method": config.method,
      ":path": config.path,
      ":scheme": "http",
      ":authority": host,
      ...checkHeaders(config),
    };
  }

  check(done: (result: CheckResult) => void): void {
    let status = 0;
    this.connection.request(this.headers, undefined, {
      onHeaders: (headers) => {
        status = Number(headers[":status"] ?? 0);
      },
      onEnd: () => {
        if (!this.reuse) this.connection.close();
        done(status === 0 ? networkFailure("stream ended without a response") : classifyStatus(this.config, status));
      },
      onError: (reason) => done(networkFailure(reason)),
    });
  }

  abort(): void {
    this.connection.close();
  }

  close(): void {
    this.connection.close();
  }
}
