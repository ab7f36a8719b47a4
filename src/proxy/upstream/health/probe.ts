// What every kind of health check (HTTP, TCP, gRPC) implements for one endpoint: run a check, report how it went.
// Scheduling, timeouts and thresholds live in the session (session.ts), so a probe only speaks its protocol.

/**
 * A failed check, in Envoy's terms: "network" failures (connect failure, reset, closed connection, timeout) count
 * toward unhealthy_threshold; "active" ones (a bad status, NOT_SERVING) fail a healthy endpoint at once unless
 * `retriable` (an HTTP status in retriable_statuses).
 */
import net from "node:net";
import { upstreamConnectOptions } from "../connect.ts";
import { sendOwnProxyHeader, type ProxyProtocolVersion } from "../proxy-protocol-socket.ts";
export interface CheckFailure {
  ok: false;
  type: "active" | "network";
  retriable: boolean;
  /** For the log: "HTTP status 503", "connect failed: ECONNREFUSED", "timed out after 1000 ms". */
  reason: string;
}

export type CheckResult = { ok: true } | CheckFailure;

export const PASSED: CheckResult = { ok: true };

export function networkFailure(reason: string): CheckFailure {
  return { ok: false, type: "network", retriable: false, reason };
}

export function activeFailure(reason: string, retriable = false): CheckFailure {
  return { ok: false, type: "active", retriable, reason };
}

/** The endpoint a probe talks to. */
export interface ProbeTarget {
  address: string;
  port: number;
  /** "address:port", for logs. */
  key: string;
  /** The cluster's tcp_keepalive delay (upstream_connection_options): health-check connections get it too, as in Envoy. */
  keepAliveMs?: number;
  /** The cluster's upstream PROXY protocol: health checks go through the transport socket too, as in Envoy. */
  proxyProtocol?: ProxyProtocolVersion;
}

/** A TCP connection to the probe's endpoint, with the cluster's keepalive (and PROXY protocol header). */
export function connectTarget(target: ProbeTarget): net.Socket {
  const socket = net.connect(upstreamConnectOptions(target.address, target.port, target.keepAliveMs));
  if (target.proxyProtocol !== undefined) sendOwnProxyHeader(socket, target.proxyProtocol, target.address, target.port);
  return socket;
}

export interface Probe {
  /** Starts one check; `done` is called once with its result, unless abort() or close() comes first. */
  check(done: (result: CheckResult) => void): void;
  /** The check in flight timed out: drop its connection (as Envoy does); its `done` must not matter any more. */
  abort(): void;
  /** The endpoint left or the cluster closes: release every connection. */
  close(): void;
}

/** "ECONNREFUSED" for errors that carry a code, the message otherwise. */
export function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
