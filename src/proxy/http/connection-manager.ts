// The HTTP connection manager of one listener (Envoy's http_connection_manager): everything between the codec and
// the router that is the same for HTTP/1.1 and HTTP/2 — forwarding headers (x-forwarded-for, x-forwarded-proto,
// x-request-id; the codecs have already removed hop-by-hop fields), the filter chain, and per-exchange stats and
// access logs.
// Built once per configuration; connections keep the instance they started with. With RDS the route table comes
// later and may change: a new router and filter chain are composed whole and swapped in (one variable assignment),
// so each new exchange runs on one table from start to end and the static path costs nothing more.

import { randomUUID } from "node:crypto";
import type { Clock } from "../../api/clock.ts";
import type { HttpConnectionManager } from "../../api/xds/types.ts";
import type { StatsStore } from "../../telemetry/stats.ts";
import { createHttpConnManagerStats, type HttpConnManagerStats } from "../../telemetry/envoy-stats.ts";
import type { ExchangeLogger } from "./access-logger.ts";
import type { Downstream, Exchange, Handler } from "./exchange.ts";
import type { AccessLogEntry } from "../../telemetry/access-log.ts";
import { createRouter } from "./router-filter.ts";
import { compileRouteTable } from "../router/route-table.ts";
import type { RouteTable } from "../router/types.ts";
import { sendLocalReply } from "./local-reply.ts";
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
    store: StatsStore,
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
              sendLocalReply(ex, 404, "NR", `route_config_not_yet_received:${name}`);
            }
          : this.compose(this.currentTable);
    }
    this.setChain = (next) => {
      chain = next;
    };
    const generateRequestId = config.generateRequestId;
    this.handler = (ex: Exchange): void => {
      stats.downstreamRqTotal.inc();
      stats.downstreamRqActive.inc();
      if (ex.protocol === "HTTP/2") stats.downstreamRqHttp2Total.inc();
      else stats.downstreamRqHttp1Total.inc();
      const h = ex.headers;
      // x-forwarded-for: the peer is appended (Envoy appends when use_remote_address; a sidecar always knows it).
      const xff = h.get("x-forwarded-for");
      h.set(
        "x-forwarded-for",
        xff === undefined ? ex.downstream.remoteAddress : xff + ", " + ex.downstream.remoteAddress,
      );
      if (!h.has("x-forwarded-proto")) h.add("x-forwarded-proto", ex.scheme);
      let id = h.get("x-request-id");
      if (id === undefined && generateRequestId) {
        id = randomUUID();
        h.add("x-request-id", id);
      }
      ex.info.requestId = id;
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

  /** A request the codec refused (400 DPE and the like): counted and logged, though no exchange was made. */
  readonly protocolError = (downstream: Downstream, status: number, code: string): void => {
    this.stats.downstreamCxProtocolError.inc();
    this.stats.countResponse(status);
    const logs = this.accessLogs;
    if (logs.length === 0) return;
    const entry: AccessLogEntry = {
      startWallMs: this.clock.wallNow(),
      responseCode: status,
      responseFlags: "DPE",
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
