// `trellis proxy --bootstrap FILE` reads its file here: the fields (api/bootstrap.ts), then everything the proxy
// checks only when it builds its run-time objects (HTTP filters, per-route filter configuration, route tables,
// access logs, clusters) — in one pass, so the user sees every problem of the file at once, each at its field path,
// each once.

import { ManualClock } from "../../api/clock.ts";
import { type BootstrapPaths, parseBootstrapText, readBootstrap } from "../../api/bootstrap.ts";
import { ConfigError, type ConfigIssue } from "../../api/errors.ts";
import { childPath, indexPath, ParseContext } from "../../api/xds/parse/context.ts";
import type { Bootstrap, FilterChain, HttpConnectionManager, Listener } from "../../api/xds/types.ts";
import { StatsStore } from "../../telemetry/stats.ts";
import { parseAccessLogs } from "../http/access-logger.ts";
import { buildFilterChain, compilePerRouteFilterConfig } from "../http/filters.ts";
import "../filters/builtin.ts";
import { compileRouteTable } from "../router/route-table.ts";
import type { UpstreamCluster } from "../upstream/cluster.ts";
import { adminAccessLogConfigs } from "../admin/access-log.ts";
import { type BuildContext, buildCluster, buildListener } from "./build.ts";

/**
 * Parses and checks a bootstrap file's text. Throws ConfigError(source, issues) naming every problem: syntax (with
 * line and column), fields, references between resources, and what building the listeners and clusters finds.
 */
export function loadBootstrap(text: string, source: string): Bootstrap {
  const raw = parseBootstrapText(text, source);
  const ctx = new ParseContext();
  const paths: BootstrapPaths = { listeners: [], clusters: [] };
  const bootstrap = readBootstrap(ctx, raw, paths);
  checkBuild(ctx, bootstrap, paths);
  const issues = unique(ctx.issues);
  if (issues.length > 0) throw new ConfigError(source, issues);
  return bootstrap;
}

/** Builds each listener and cluster the fields left intact, as the proxy will, and reports what that refuses. */
function checkBuild(ctx: ParseContext, bootstrap: Bootstrap, paths: BootstrapPaths): void {
  const fieldIssues = [...ctx.issues];
  const clean = (path: string): boolean => !fieldIssues.some((i) => i.path === path || isUnder(i.path, path));
  const build: BuildContext = {
    clock: new ManualClock(),
    random: () => 0.5,
    stats: new StatsStore(),
    log: () => {},
    clusters: new Map<string, UpstreamCluster>(),
    routes: { table: () => undefined },
  };
  // The admin server's access log entries (paths already say "admin.access_log[i]…").
  if (bootstrap.admin !== undefined)
    try {
      adminAccessLogConfigs(bootstrap.admin, "");
    } catch (err) {
      reportThrown(ctx, "", err);
    }
  bootstrap.staticResources.clusters.forEach((cluster, i) => {
    const at = paths.clusters[i]!;
    if (!clean(at)) return;
    try {
      buildCluster(build, cluster);
    } catch (err) {
      reportThrown(ctx, at, err);
    }
  });
  bootstrap.staticResources.listeners.forEach((listener, i) => {
    const at = paths.listeners[i]!;
    const before = ctx.issues.length;
    // Each part of a connection manager is checked when its own fields are sound, whatever the rest of the
    // listener has: a bad route elsewhere must not hide a filter this proxy lacks.
    for (const { chain, path } of chainsOf(listener, at)) {
      const terminal = chain.filters[chain.filters.length - 1];
      if (terminal?.kind !== "http_connection_manager") continue;
      const hcmPath = `${indexPath(childPath(path, "filters"), chain.filters.length - 1)}.typed_config`;
      checkConnectionManager(ctx, terminal.config, hcmPath, (part) => clean(childPath(hcmPath, part)));
    }
    if (!clean(at) || ctx.issues.length > before) return;
    try {
      buildListener(build, listener);
    } catch (err) {
      reportThrown(ctx, at, err);
    }
  });
}

function chainsOf(listener: Listener, at: string): { chain: FilterChain; path: string }[] {
  const out = listener.filterChains.map((chain, j) => ({ chain, path: indexPath(childPath(at, "filter_chains"), j) }));
  if (listener.defaultFilterChain !== undefined)
    out.push({ chain: listener.defaultFilterChain, path: childPath(at, "default_filter_chain") });
  return out;
}

/** Each of a connection manager's build steps on its own, so a bad access log does not hide a bad filter. */
function checkConnectionManager(
  ctx: ParseContext,
  hcm: HttpConnectionManager,
  at: string,
  clean: (part: string) => boolean,
): void {
  const source = `listener http_connection_manager ${hcm.statPrefix}`;
  if (clean("access_log")) attempt(ctx, at, () => parseAccessLogs(hcm.accessLog, source));
  const table =
    hcm.routeConfig === undefined || !clean("route_config")
      ? undefined
      : attempt(ctx, childPath(at, "route_config"), () =>
          compileRouteTable(hcm.routeConfig!, { random: () => 0.5, compileFilterConfig: compilePerRouteFilterConfig }),
        );
  if (!clean("http_filters")) return;
  attempt(ctx, at, () =>
    buildFilterChain(hcm.httpFilters, () => {}, {
      clock: new ManualClock(),
      random: () => 0.5,
      store: new StatsStore(),
      statPrefix: hcm.statPrefix,
      // Never called: nothing is served through this chain.
      routeOf: (ex) => (ex.info.route ??= table!.route(ex)),
    }),
  );
}

function attempt<T>(ctx: ParseContext, at: string, run: () => T): T | undefined {
  try {
    return run();
  } catch (err) {
    reportThrown(ctx, at, err);
    return undefined;
  }
}

/** A ConfigError's issues under `at` (their paths are relative to what was built); anything else at `at` itself. */
function reportThrown(ctx: ParseContext, at: string, err: unknown): void {
  if (err instanceof ConfigError) {
    for (const issue of err.issues) ctx.report(issue.path === "" ? at : childPath(at, issue.path), issue.message);
  } else ctx.report(at, err instanceof Error ? err.message : String(err));
}

function isUnder(path: string, parent: string): boolean {
  return path.startsWith(`${parent}.`) || path.startsWith(`${parent}[`);
}

/** The same problem found twice (by the fields and by a build step) is listed once. */
function unique(issues: readonly ConfigIssue[]): ConfigIssue[] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const key = `${i.path}\n${i.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
