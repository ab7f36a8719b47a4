// The HTTP connection manager of one listener (Envoy's http_connection_manager): everything between the codec and
// the router that is the same for HTTP/1.1 and HTTP/2 — forwarding headers (x-forwarded-for, x-forwarded-proto,
// x-request-id; the codecs have already removed hop-by-hop fields), the filter chain, and per-exchange stats and
// access logs.
// Built once per configuration; connections keep the instance they started with. With RDS the route table comes
// later and may change: a new router and filter chain are composed whole and swapped in (one variable assignment),
// so each new exchange runs on one table from start to end and the static path costs nothing more.

import { randomUUID } from "node:crypto";
import { BlockList, isIP } from "node:net";
import type { Clock } from "../../api/clock.ts";
import type { HttpConnectionManager, InternalAddressConfig } from "../../api/xds/types.ts";
import type { Headers } from "./headers.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import { createHttpConnManagerStats, type HttpConnManagerStats } from "../../telemetry/envoy-stats.ts";
import type { ExchangeLogger } from "./access-logger.ts";
import type { Downstream, Exchange, Handler } from "./exchange.ts";
import type { AccessLogEntry } from "../../telemetry/access-log.ts";
import { createRouter } from "./router-filter.ts";
import { compileRouteTable } from "../router/route-table.ts";
import type { RouteTable } from "../router/types.ts";
import { CAUSES, rescue } from "./rescue.ts";
import { LocalReplyConfig } from "./local-reply-config.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import { buildFilterChain, compilePerRouteFilterConfig } from "./filters.ts";
import "../filters/builtin.ts";

/** Where an RDS connection manager finds its route table (compiled once per route configuration version). */
export interface RouteTableSource {
  table(routeConfigName: string): RouteTable | undefined;
}

export class HttpConnectionManagerRuntime {
  readonly handler: Handler;
  /** The route configuration name of an RDS connection manager; undefined for inline routes. */
  readonly rdsName: string | undefined;
  /** The table this manager routes with now (undefined while an RDS table has not arrived). */
  private currentTable: RouteTable | undefined;
  private readonly compose: (table: RouteTable) => Handler;
  private readonly setChain: (chain: Handler) => void;
  readonly stats: HttpConnManagerStats;
  readonly statPrefix: string;

  constructor(
    readonly config: HttpConnectionManager,
    clusters: ReadonlyMap<string, UpstreamCluster>,
    readonly clock: Clock,
    readonly store: StatsStore,
    private readonly accessLogs: readonly ExchangeLogger[],
    random: () => number = Math.random,
    routes?: RouteTableSource,
  ) {
    this.statPrefix = config.statPrefix;
    this.stats = createHttpConnManagerStats(store, config.statPrefix);
    const stats = this.stats;
    this.compose = (table) =>
      buildFilterChain(
        config.httpFilters,
        createRouter({ table, clusters, clock, random, upgradeTypes: config.upgradeTypes, stats }),
        {
          clock,
          random,
          store,
          statPrefix: config.statPrefix,
          routeOf: (ex) => (ex.info.route ??= table.route(ex)),
        },
      );
    this.rdsName = config.rds?.routeConfigName;
    let chain: Handler;
    if (config.routeConfig !== undefined) {
      this.currentTable = compileRouteTable(config.routeConfig, {
        random,
        compileFilterConfig: compilePerRouteFilterConfig,
      });
      chain = this.compose(this.currentTable);
    } else {
      const name = this.rdsName ?? "";
      this.currentTable = routes?.table(name);
      // Until its route configuration arrives the manager answers, and says why (Envoy would keep the listener
      // warming instead; see docs/xds-client.md).
      chain =
        this.currentTable === undefined
          ? (ex) => {
              stats.noRoute.inc();
              rescue(ex, CAUSES.routeConfigNotReceived, name);
            }
          : this.compose(this.currentTable);
    }
    this.setChain = (next) => {
      chain = next;
    };
    const generateRequestId = config.generateRequestId;
    const useRemoteAddress = config.useRemoteAddress;
    const trustedHops = config.xffNumTrustedHops;
    const appendXff = !config.skipXffAppend;
    const preserveExternalRequestId = config.preserveExternalRequestId;
    const isInternal = internalAddressMatcher(config.internalAddressConfig);
    const localReply =
      config.localReplyConfig === undefined
        ? undefined
        : LocalReplyConfig.compile(config.localReplyConfig, `http_connection_manager ${config.statPrefix}`, clock);
    // Envoy's ConnectionManagerUtility::mutateRequestHeaders, in its order: who the client is (the peer, or read
    // from x-forwarded-for), whether the request is internal (x-forwarded-for holds one address, an internal one)
    // or an edge request (external, on a use_remote_address listener), and what each may bring in.
    this.handler = (ex: Exchange): void => {
      stats.downstreamRqTotal.inc();
      stats.downstreamRqActive.inc();
      if (ex.protocol === "HTTP/2") stats.downstreamRqHttp2Total.inc();
      else stats.downstreamRqHttp1Total.inc();
      const h = ex.headers;
      const xff = h.get("x-forwarded-for");
      let remote: string | undefined;
      let singleAddress: boolean;
      if (useRemoteAddress) {
        const peer = ex.downstream.remoteAddress;
        singleAddress = xff === undefined;
        if (trustedHops > 0 && xff !== undefined) remote = xffAddress(xff, trustedHops - 1);
        remote ??= peer;
        if (appendXff) h.set("x-forwarded-for", xff === undefined ? peer : xff + ", " + peer);
        // An untrusted previous hop's x-forwarded-proto is replaced by what this connection is.
        if (trustedHops === 0 || singleAddress) h.set("x-forwarded-proto", ex.scheme);
      } else {
        // The client is whoever x-forwarded-for says, past the trusted hops; nothing is appended.
        singleAddress = xff !== undefined && xff.indexOf(",") < 0;
        if (xff !== undefined) remote = xffAddress(xff, trustedHops);
      }
      if (!h.has("x-forwarded-proto")) h.add("x-forwarded-proto", ex.scheme);
      const internal = singleAddress && remote !== undefined && isInternal(remote);
      const edge = !internal && useRemoteAddress;
      if (internal) h.set("x-envoy-internal", "true");
      else {
        stripInternalHeaders(h, edge);
        if (edge) h.set("x-envoy-external-address", remote ?? ex.downstream.remoteAddress);
      }
      let id = h.get("x-request-id");
      if (generateRequestId) {
        if (id === undefined) {
          id = randomUUID();
          h.add("x-request-id", id);
        } else if (edge && !preserveExternalRequestId) {
          id = randomUUID();
          h.set("x-request-id", id);
        }
      }
      ex.info.requestId = id;
      if (localReply !== undefined) ex.info.localReply = localReply;
      chain(ex);
    };
  }

  /**
   * RDS: routes new exchanges with `table` from now on (exchanges already started keep theirs). Composing cannot
   * fail: the table was compiled, and every problem reported, before anything was swapped.
   */
  useRouteTable(table: RouteTable): void {
    if (table === this.currentTable) return;
    this.currentTable = table;
    this.setChain(this.compose(table));
  }

  /**
   * A request the codec refused (400 DPE and the like) or whose head did not arrive in time (408): counted and
   * logged, though no exchange was made. `inExchange`: refused in its body, after its exchange existed; that
   * exchange's completion counts its status and writes its log line, so only the protocol error is counted here.
   */
  readonly protocolError = (
    downstream: Downstream,
    status: number,
    code: string,
    flag = "DPE",
    inExchange = false,
  ): void => {
    // A head that did not arrive in time is a timed-out stream in Envoy, not a protocol error.
    if (code === "stream_idle_timeout") this.stats.downstreamRqIdleTimeout.inc();
    else if (code === "request_overall_timeout") this.stats.downstreamRqTimeout.inc();
    else if (code !== "request_header_timeout") this.stats.downstreamCxProtocolError.inc();
    if (inExchange) return;
    this.stats.countResponse(status);
    const logs = this.accessLogs;
    if (logs.length === 0) return;
    const entry: AccessLogEntry = {
      startWallMs: this.clock.wallNow(),
      responseCode: status,
      responseFlags: flag,
      responseCodeDetails: code,
      bytesReceived: 0,
      bytesSent: 0,
      durationMs: 0,
      downstreamRemoteAddress: `${downstream.remoteAddress}:${downstream.remotePort}`,
      downstreamLocalAddress: `${downstream.localAddress}:${downstream.localPort}`,
    };
    for (const l of logs) l.logEntry(entry);
  };

  /** Called once per exchange when it is over (response ended, reset or abandoned). */
  readonly complete = (ex: Exchange): void => {
    const stats = this.stats;
    stats.downstreamRqActive.dec();
    const info = ex.info;
    if (info.responseCode > 0) stats.countResponse(info.responseCode);
    if (info.responseFlags !== "") stats.countFlagged(info.responseFlags, info.details);
    stats.downstreamRqTime.observe(this.clock.now() - ex.info.startMs);
    const logs = this.accessLogs;
    for (let i = 0; i < logs.length; i++) logs[i]!.log(ex, this.clock);
  };
}

/**
 * Envoy's getLastAddressFromXFF: the address `skip` entries from the right of x-forwarded-for, when it is a valid
 * IP address; undefined when the list is shorter or the entry is not an address.
 */
export function xffAddress(xff: string, skip: number): string | undefined {
  let end = xff.length;
  for (let i = 0; i < skip; i++) {
    const comma = xff.lastIndexOf(",", end - 1);
    if (comma < 0) return undefined;
    end = comma;
  }
  const start = xff.lastIndexOf(",", end - 1) + 1;
  const address = xff.slice(start, end).trim();
  return isIP(address) === 0 ? undefined : address;
}

/**
 * Whether a client address is internal. Without internal_address_config, Envoy's long-standing default: RFC 1918
 * IPv4 ranges, 127.0.0.1, ::1 and fd00::/8. With it: its CIDR ranges (and unix-socket peers when unix_sockets).
 * Built once per configuration.
 */
export function internalAddressMatcher(config: InternalAddressConfig | undefined): (address: string) => boolean {
  if (config === undefined) return isDefaultInternal;
  const list = new BlockList();
  for (const r of config.cidrRanges)
    list.addSubnet(r.addressPrefix, r.prefixLen, isIP(r.addressPrefix) === 6 ? "ipv6" : "ipv4");
  const unix = config.unixSockets;
  return (address) => {
    const family = isIP(address);
    if (family === 0) return unix && address === "";
    return list.check(address, family === 6 ? "ipv6" : "ipv4");
  };
}

function isDefaultInternal(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    if (address === "127.0.0.1" || address.startsWith("10.") || address.startsWith("192.168.")) return true;
    if (!address.startsWith("172.")) return false;
    const second = Number(address.slice(4, address.indexOf(".", 4)));
    return second >= 16 && second <= 31;
  }
  if (family === 6) {
    const lower = address.toLowerCase();
    // fd00::/8: a first group of four hex digits starting "fd".
    return lower === "::1" || (lower.startsWith("fd") && lower.charCodeAt(4) === 0x3a);
  }
  return false;
}

/**
 * Envoy's cleanInternalHeaders, for a request that is not internal: the x-envoy-* controls no outside client may
 * set (retries, timeouts, tracing, x-envoy-internal) are removed; an edge request loses every x-envoy-* field (Envoy
 * removes a fixed list there — the decorator and downstream-service fields besides the controls —, Trellis the
 * whole prefix, so an outside client cannot reach the fault filter's header controls either). One pass, and names
 * are compared only past the "x-envoy-" prefix.
 */
function stripInternalHeaders(h: Headers, edge: boolean): void {
  const l = h.list;
  let w = 0;
  for (let r = 0; r < l.length; r += 2) {
    const name = l[r]!;
    if (name.length > 8 && name.charCodeAt(1) === 0x2d && name.startsWith("x-envoy-") && (edge || isEnvoyControl(name)))
      continue;
    if (w !== r) {
      l[w] = name;
      l[w + 1] = l[r + 1]!;
    }
    w += 2;
  }
  l.length = w;
}

function isEnvoyControl(name: string): boolean {
  switch (name) {
    case "x-envoy-internal":
    case "x-envoy-retry-on":
    case "x-envoy-retry-grpc-on":
    case "x-envoy-max-retries":
    case "x-envoy-retriable-status-codes":
    case "x-envoy-retriable-header-names":
    case "x-envoy-upstream-alt-stat-name":
    case "x-envoy-upstream-rq-timeout-ms":
    case "x-envoy-upstream-rq-per-try-timeout-ms":
    case "x-envoy-upstream-rq-timeout-alt-response":
    case "x-envoy-expected-rq-timeout-ms":
    case "x-envoy-force-trace":
    case "x-envoy-ip-tags":
    case "x-envoy-original-url":
    case "x-envoy-hedge-on-per-try-timeout":
      return true;
    default:
      return false;
  }
}
