// compileRouteTable: a typed RouteConfiguration becomes, once, a RouteTable that answers route(request) with the
// first matching route of the matching virtual host, or a miss saying which stage failed. Everything that can be
// computed from configuration is computed here (regexes, header formats, cluster choices, edit level order), so a
// prefix match to a single cluster allocates nothing per request.

import { hostname as osHostname } from "node:os";
import type { Result } from "../../api/result.ts";
import type { FilterConfigOverride, Route, RouteConfiguration, VirtualHost } from "../../api/xds/types.ts";
import { ClusterPicker } from "./cluster-choice.ts";
import type { CompiledRoute, EditLevels } from "./compiled-route.ts";
import { DEFAULT_BUFFER_LIMIT_BYTES, FILTER_DISABLED, RouteEntry } from "./compiled-route.ts";
import { CompiledRetryPolicy } from "./retry-policy.ts";
import { DomainIndex } from "./domains.ts";
import { HashPolicyEvaluator } from "./hash-policy.ts";
import type { FormatEnv } from "./header-edits.ts";
import { HeaderEditLevel } from "./header-edits.ts";
import { IssueSink } from "./issues.ts";
import { PathRewrite } from "./path-rewrite.ts";
import { RedirectTarget } from "./redirect.ts";
import type { RouteRequest } from "./request.ts";
import { CompiledRouteMatch, regexMessage } from "./route-match.ts";

export interface RouteMiss {
  readonly kind: "miss";
  readonly reason: "no_virtual_host" | "no_route";
  readonly virtualHostName?: string;
}

export interface CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
  /** The first route whose match accepts the request, or this host's no_route miss. */
  route(req: RouteRequest): CompiledRoute | RouteMiss;
}

export interface RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly CompiledVirtualHost[];
  /**
   * The virtual host for an authority, or undefined. Port-aware: "a.com:8080" matches domain "a.com:8080" first,
   * then "a.com" (see domains.ts for the full precedence).
   */
  virtualHost(authority: string): CompiledVirtualHost | undefined;
  /** The first matching route of the matched virtual host, or a miss saying which stage failed. */
  route(req: RouteRequest): CompiledRoute | RouteMiss;
}

export interface CompileOptions {
  /** Uniform in [0, 1): weighted cluster picks. Default Math.random; tests pass a seeded generator. */
  random?: () => number;
  /** What %HOSTNAME% prints. Default os.hostname(). */
  hostname?: string;
  /**
   * Validates one typed_per_filter_config entry with the named filter's factory and returns what the filter will
   * read at run time (or the problems). Without it, any entry is a configuration error: nothing would read it.
   */
  compileFilterConfig?: (filterName: string, override: FilterConfigOverride) => Result<unknown, string[]>;
}

const NO_VIRTUAL_HOST: RouteMiss = Object.freeze({ kind: "miss", reason: "no_virtual_host" });

class VirtualHostImpl implements CompiledVirtualHost {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
  private readonly matches: readonly CompiledRouteMatch[];
  private readonly miss: RouteMiss;

  /** The routes other requests are matched against, in order (their matches at the same index). */
  private readonly plainRoutes: readonly CompiledRoute[];
  /** connect_matcher routes, in order: a CONNECT request is matched against these only (Envoy's CONNECT has no
   * :path for another matcher to match). */
  private readonly connectRoutes: readonly CompiledRoute[];
  private readonly connectMatches: readonly CompiledRouteMatch[];

  constructor(name: string, routes: CompiledRoute[], matches: CompiledRouteMatch[]) {
    this.name = name;
    this.routes = routes;
    const plainRoutes: CompiledRoute[] = [];
    const plainMatches: CompiledRouteMatch[] = [];
    const connectRoutes: CompiledRoute[] = [];
    const connectMatches: CompiledRouteMatch[] = [];
    matches.forEach((m, i) => {
      (m.forConnect ? connectRoutes : plainRoutes).push(routes[i]!);
      (m.forConnect ? connectMatches : plainMatches).push(m);
    });
    this.plainRoutes = plainRoutes;
    this.matches = plainMatches;
    this.connectRoutes = connectRoutes;
    this.connectMatches = connectMatches;
    this.miss = Object.freeze({ kind: "miss", reason: "no_route", virtualHostName: name });
  }

  route(req: RouteRequest): CompiledRoute | RouteMiss {
    if (req.method === "CONNECT") return this.routeConnect(req);
    const ms = this.matches;
    const path = req.path;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i]!;
      if (m.plainPrefix ? m.prefixMatches(path) : m.matches(req)) return this.plainRoutes[i]!;
    }
    return this.miss;
  }

  private routeConnect(req: RouteRequest): CompiledRoute | RouteMiss {
    const ms = this.connectMatches;
    for (let i = 0; i < ms.length; i++) if (ms[i]!.matches(req)) return this.connectRoutes[i]!;
    return this.miss;
  }
}

class RouteTableImpl implements RouteTable {
  readonly name: string;
  readonly virtualHosts: readonly CompiledVirtualHost[];
  private readonly domains: DomainIndex<VirtualHostImpl>;

  constructor(name: string, hosts: VirtualHostImpl[], domains: DomainIndex<VirtualHostImpl>) {
    this.name = name;
    this.virtualHosts = hosts;
    this.domains = domains;
  }

  virtualHost(authority: string): CompiledVirtualHost | undefined {
    return this.domains.find(authority);
  }

  route(req: RouteRequest): CompiledRoute | RouteMiss {
    const vh = this.domains.find(req.authority);
    return vh === undefined ? NO_VIRTUAL_HOST : vh.route(req);
  }
}

/** Compiles a route configuration; throws ConfigError naming every problem found (nothing is half-built). */
export function compileRouteTable(config: RouteConfiguration, options: CompileOptions = {}): RouteTable {
  const issues = new IssueSink();
  const random = options.random ?? Math.random;
  const env: FormatEnv = { hostname: options.hostname ?? osHostname() };
  const globalLevels = levelsOf(config, env, issues, "");
  const domains = new DomainIndex<VirtualHostImpl>();
  const hosts = config.virtualHosts.map((vh, vi) => {
    const at = `virtual_hosts[${vi}]`;
    const vhLevels = levelsOf(vh, env, issues, `${at}.`);
    const vhFilterConfigs = compileFilterConfigs(vh.typedPerFilterConfig, options, issues, at, NO_FILTER_CONFIGS);
    const routes: CompiledRoute[] = [];
    const matches: CompiledRouteMatch[] = [];
    vh.routes.forEach((r, ri) => {
      const rat = `${at}.routes[${ri}]`;
      const match = new CompiledRouteMatch(r.match, issues, `${rat}.match`);
      const own = levelsOf(r, env, issues, `${rat}.`);
      // Most specific first: Envoy's default most_specific_header_mutations_wins=false (see compiled-route.ts).
      const levels: EditLevels = {
        request: [own.request, vhLevels.request, globalLevels.request].filter(isLevel),
        response: [own.response, vhLevels.response, globalLevels.response].filter(isLevel),
      };
      const filterConfigs = compileFilterConfigs(r.typedPerFilterConfig, options, issues, rat, vhFilterConfigs);
      routes.push(compileRoute(r, vh, match, levels, random, env, issues, rat, filterConfigs));
      matches.push(match);
    });
    const host = new VirtualHostImpl(vh.name, routes, matches);
    vh.domains.forEach((d, di) => {
      const problem = domains.add(d, host);
      if (problem) issues.add(`${at}.domains[${di}]`, problem);
    });
    return host;
  });
  issues.throwIfAny(`route_configuration ${JSON.stringify(config.name)}`);
  return new RouteTableImpl(config.name, hosts, domains);
}

const NO_FILTER_CONFIGS: ReadonlyMap<string, unknown> = new Map();

/** A level's typed_per_filter_config compiled and merged over the enclosing level's (the more specific wins). */
function compileFilterConfigs(
  raw: Record<string, FilterConfigOverride>,
  options: CompileOptions,
  issues: IssueSink,
  at: string,
  enclosing: ReadonlyMap<string, unknown>,
): ReadonlyMap<string, unknown> {
  const names = Object.keys(raw);
  if (names.length === 0) return enclosing;
  const merged = new Map(enclosing);
  for (const name of names) {
    const override = raw[name]!;
    const path = `${at}.typed_per_filter_config.${name}`;
    if (override.disabled) {
      merged.set(name, FILTER_DISABLED);
      continue;
    }
    if (options.compileFilterConfig === undefined) {
      issues.add(path, "per-filter configuration is not supported here");
      continue;
    }
    const compiled = options.compileFilterConfig(name, override);
    if (compiled.ok) merged.set(name, compiled.value);
    else for (const message of compiled.error) issues.add(path, message);
  }
  return merged;
}

function isLevel(l: HeaderEditLevel | undefined): l is HeaderEditLevel {
  return l !== undefined;
}

function levelsOf(
  e: Pick<Route, "requestHeadersToAdd" | "requestHeadersToRemove" | "responseHeadersToAdd" | "responseHeadersToRemove">,
  env: FormatEnv,
  issues: IssueSink,
  at: string,
): { request: HeaderEditLevel | undefined; response: HeaderEditLevel | undefined } {
  return {
    request: HeaderEditLevel.compile(e.requestHeadersToAdd, e.requestHeadersToRemove, env, issues, {
      add: `${at}request_headers_to_add`,
      remove: `${at}request_headers_to_remove`,
    }),
    response: HeaderEditLevel.compile(e.responseHeadersToAdd, e.responseHeadersToRemove, env, issues, {
      add: `${at}response_headers_to_add`,
      remove: `${at}response_headers_to_remove`,
    }),
  };
}

function compileRoute(
  r: Route,
  vh: VirtualHost,
  match: CompiledRouteMatch,
  levels: EditLevels,
  random: () => number,
  env: FormatEnv,
  issues: IssueSink,
  at: string,
  filterConfigs: ReadonlyMap<string, unknown>,
): CompiledRoute {
  const a = r.action;
  if (a.kind === "direct_response") return RouteEntry.direct(r.name, vh.name, levels, filterConfigs, a.status, a.body);
  if (a.kind === "redirect") {
    // Envoy treats an empty prefix_rewrite as absent (proto3 cannot tell them apart).
    const rewrite = a.prefixRewrite ? PathRewrite.prefix(a.prefixRewrite, match.matchedLength) : undefined;
    return RouteEntry.redirect(r.name, vh.name, levels, filterConfigs, a.responseCode, new RedirectTarget(a, rewrite));
  }
  let picker: ClusterPicker;
  if (a.weightedClusters !== undefined) {
    picker = ClusterPicker.weighted(a.weightedClusters, random, env, issues, `${at}.route.weighted_clusters`);
  } else {
    if (a.cluster === undefined || a.cluster === "")
      issues.add(`${at}.route`, "a cluster or weighted_clusters is required");
    picker = ClusterPicker.single(a.cluster ?? "");
  }
  let pathRewrite: PathRewrite | undefined;
  if (a.prefixRewrite && a.regexRewrite) {
    issues.add(`${at}.route`, "specify only one of prefix_rewrite and regex_rewrite");
  } else if (a.prefixRewrite) {
    pathRewrite = PathRewrite.prefix(a.prefixRewrite, match.matchedLength);
  } else if (a.regexRewrite) {
    try {
      pathRewrite = PathRewrite.regex(a.regexRewrite.regex, a.regexRewrite.substitution);
    } catch (err) {
      issues.add(`${at}.route.regex_rewrite`, regexMessage(a.regexRewrite.regex, err));
    }
  }
  const upgrades = new Map<string, boolean>();
  for (const [type, enabled] of Object.entries(a.upgradeOverrides)) upgrades.set(type.toLowerCase(), enabled);
  return RouteEntry.forward(r.name, vh.name, levels, filterConfigs, {
    picker,
    pathRewrite,
    hostRewrite: a.hostRewriteLiteral || undefined,
    autoHostRewrite: a.autoHostRewrite === true,
    timeoutMs: a.timeoutMs,
    idleTimeoutMs: a.idleTimeoutMs,
    hashPolicy: a.hashPolicy.length > 0 ? new HashPolicyEvaluator(a.hashPolicy) : undefined,
    upgradeOverrides: upgrades,
    connectTerminate: a.connectTerminate === true,
    extensions: a.extensions,
    retryPolicy: a.retryPolicy === undefined ? undefined : new CompiledRetryPolicy(a.retryPolicy),
    mirrorPolicies: a.requestMirrorPolicies,
    maxStreamDuration: a.maxStreamDuration,
    bufferLimitBytes: a.perRequestBufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES,
  });
}
