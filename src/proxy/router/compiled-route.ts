// What a matched route tells the proxy to do, precomputed at config time. One class for all three kinds (forward
// to a cluster, redirect, answer directly) keeps a single object shape for V8 and lets callers read the fields of
// the kind they checked without casts; the members of the other kinds hold inert values. Everything per request is
// a method on prebuilt data.
//
// Header edit order: Envoy with most_specific_header_mutations_wins=false (its default, and the only mode here)
// evaluates the route's edits first, then the virtual host's, then the route configuration's, each level's
// overwrites replacing earlier ones, so on a conflict the least specific level wins. A weighted cluster's own edits
// run before all three (WeightedClusterEntry::finalizeRequestHeaders). The same order holds for responses.

import { TrellisError } from "../../api/errors.ts";
import type { MaxStreamDuration, RequestMirrorPolicy } from "../../api/xds/types.ts";
import type { CompiledRetryPolicy } from "./retry-policy.ts";
import type { Headers } from "../http/headers.ts";
import type { ClusterChoice } from "./cluster-choice.ts";
import type { ClusterPicker } from "./cluster-choice.ts";
import type { HashPolicyEvaluator, SetCookie } from "./hash-policy.ts";
import type { HeaderEditLevel } from "./header-edits.ts";
import { applyLevels } from "./header-edits.ts";
import type { PathRewrite } from "./path-rewrite.ts";
import type { RedirectTarget } from "./redirect.ts";
import type { RouteContext, RouteRequest } from "./request.ts";

export interface CompiledRoute {
  readonly kind: "route" | "redirect" | "direct_response";
  readonly name: string;
  readonly virtualHostName: string;

  // ---- kind "route" ----
  /** Every cluster this route may send to (validation against the cluster list, config dumps); [] otherwise. */
  readonly clusters: readonly ClusterChoice[];
  /** The cluster for this request: the one cluster (the same object every time), or a weighted random pick. */
  pickCluster(): ClusterChoice;
  /** host_rewrite_literal (req.authority), then prefix_rewrite or regex_rewrite (req.path, query kept). */
  rewrite(req: RouteRequest): void;
  /** auto_host_rewrite: the router sets req.authority to the chosen endpoint's host name (DNS clusters, EDS). */
  readonly autoHostRewrite?: boolean;
  /** Route timeout in ms; 0 = disabled. */
  readonly timeoutMs: number;
  /** Stream idle timeout of this route; undefined = the connection manager's. */
  readonly idleTimeoutMs: number | undefined;
  /**
   * The hash_policy key for ring hash / maglev, or undefined when no policy produced one. `setCookie` receives the
   * Set-Cookie value to add to the response when a cookie policy with a ttl had to generate its cookie.
   */
  hash(req: RouteRequest, ctx: RouteContext, setCookie?: SetCookie): number | undefined;
  /** Whether an upgrade (`type` lower-case, e.g. "websocket") may proceed: the route's override, else the listener's. */
  upgradeAllowed(type: string, listenerDefault: boolean): boolean;
  /** A CONNECT on this route is terminated here (connect_config): 200 once a TCP connection to the endpoint is open. */
  readonly connectTerminate: boolean;
  /** Raw Envoy fields later stages implement (cors, rate_limits, …). */
  readonly extensions: Record<string, unknown>;
  /** The retry policy (the route's, else its virtual host's); undefined = no retries. */
  readonly retryPolicy: CompiledRetryPolicy | undefined;
  /** request_mirror_policies; empty for most routes. */
  readonly mirrorPolicies: readonly RequestMirrorPolicy[];
  /** max_stream_duration and the gRPC timeout settings. */
  readonly maxStreamDuration: MaxStreamDuration;
  /** How much request body is kept for retries and mirrors (per_request_buffer_limit_bytes, default 1 MiB). */
  readonly bufferLimitBytes: number;
  /**
   * The router's upstream layers for this route (http/call/stack.ts), composed from the fields above on the
   * route's first request and kept with it: a route table is immutable, so they never change.
   */
  upstreamStack: unknown;

  // ---- kind "redirect" ----
  readonly redirectStatus: number;
  redirectLocation(req: RouteRequest): string;

  // ---- kind "direct_response" ----
  readonly directStatus: number;
  /** Shared by every response of this route: write it, never modify it. */
  readonly directBody: Buffer | undefined;

  // ---- every kind ----
  /**
   * This route's configuration for the HTTP filter named `filterName` (typed_per_filter_config of the route, else
   * of its virtual host), as that filter's factory compiled it; FILTER_DISABLED when configured off; undefined when
   * there is none (the filter uses its listener-level config).
   */
  perFilterConfig(filterName: string): unknown;
  /**
   * Applies request_headers_to_add/remove of every level to `headers` (the request's, or a copy bound upstream).
   * Envoy does this before rewriting host and path, so %REQ(:path)% sees the path as received.
   */
  applyRequestHeaders(headers: Headers, req: RouteRequest, ctx: RouteContext, choice: ClusterChoice | undefined): void;
  /** Applies response_headers_to_add/remove of every level to the response `headers`. */
  applyResponseHeaders(headers: Headers, req: RouteRequest, ctx: RouteContext, choice: ClusterChoice | undefined): void;
}

/** The header edit levels of one route, most specific first, empty levels left out. */
export interface EditLevels {
  request: readonly HeaderEditLevel[];
  response: readonly HeaderEditLevel[];
}

export interface ForwardSettings {
  picker: ClusterPicker;
  pathRewrite: PathRewrite | undefined;
  hostRewrite: string | undefined;
  autoHostRewrite?: boolean;
  timeoutMs: number;
  idleTimeoutMs: number | undefined;
  hashPolicy: HashPolicyEvaluator | undefined;
  upgradeOverrides: ReadonlyMap<string, boolean>;
  connectTerminate: boolean;
  extensions: Record<string, unknown>;
  retryPolicy: CompiledRetryPolicy | undefined;
  mirrorPolicies: readonly RequestMirrorPolicy[];
  maxStreamDuration: MaxStreamDuration;
  bufferLimitBytes: number;
}

/** Envoy's default per_connection_buffer_limit_bytes, which also bounds a request's retry buffer. */
export const DEFAULT_BUFFER_LIMIT_BYTES = 1024 * 1024;
const NO_MAX_STREAM_DURATION: MaxStreamDuration = Object.freeze({
  maxStreamDurationMs: 0,
  grpcTimeoutHeaderMaxMs: 0,
  grpcTimeoutHeaderOffsetMs: 0,
});
const NO_MIRRORS: readonly RequestMirrorPolicy[] = Object.freeze([]);

type FilterConfigs = ReadonlyMap<string, unknown>;

const NO_UPGRADES: ReadonlyMap<string, boolean> = new Map();
const NO_CLUSTERS: readonly ClusterChoice[] = Object.freeze([]);

/** typed_per_filter_config said `disabled: true` for this filter on this route. */
export const FILTER_DISABLED: unique symbol = Symbol("filter disabled");

/** Calling a member of another kind is a caller bug (a broken invariant), not something traffic can cause. */
class WrongRouteKindError extends TrellisError {
  constructor(route: string, kind: string, member: string) {
    super("TRELLIS_ROUTE_KIND", `route ${route} is a ${kind} route: ${member}() does not apply`);
  }
}

export class RouteEntry implements CompiledRoute {
  readonly kind: "route" | "redirect" | "direct_response";
  readonly name: string;
  readonly virtualHostName: string;
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number | undefined;
  readonly extensions: Record<string, unknown>;
  readonly autoHostRewrite: boolean;
  readonly retryPolicy: CompiledRetryPolicy | undefined;
  readonly mirrorPolicies: readonly RequestMirrorPolicy[];
  readonly maxStreamDuration: MaxStreamDuration;
  readonly bufferLimitBytes: number;
  upstreamStack: unknown = undefined;
  readonly redirectStatus: number;
  readonly directStatus: number;
  readonly directBody: Buffer | undefined;
  private readonly requestLevels: readonly HeaderEditLevel[];
  private readonly responseLevels: readonly HeaderEditLevel[];
  private readonly picker: ClusterPicker | undefined;
  private readonly pathRewrite: PathRewrite | undefined;
  private readonly hostRewrite: string | undefined;
  private readonly hashPolicy: HashPolicyEvaluator | undefined;
  private readonly upgrades: ReadonlyMap<string, boolean>;
  readonly connectTerminate: boolean;
  private readonly target: RedirectTarget | undefined;
  private readonly filterConfigs: ReadonlyMap<string, unknown>;

  private constructor(
    kind: CompiledRoute["kind"],
    name: string,
    virtualHostName: string,
    levels: EditLevels,
    filterConfigs: ReadonlyMap<string, unknown>,
    forward: ForwardSettings | undefined,
    redirect: { status: number; target: RedirectTarget } | undefined,
    direct: { status: number; body: string | undefined } | undefined,
  ) {
    this.kind = kind;
    this.name = name;
    this.virtualHostName = virtualHostName;
    this.filterConfigs = filterConfigs;
    this.requestLevels = levels.request;
    this.responseLevels = levels.response;
    this.picker = forward?.picker;
    this.pathRewrite = forward?.pathRewrite;
    this.hostRewrite = forward?.hostRewrite;
    this.autoHostRewrite = forward?.autoHostRewrite === true;
    this.timeoutMs = forward?.timeoutMs ?? 0;
    this.idleTimeoutMs = forward?.idleTimeoutMs;
    this.hashPolicy = forward?.hashPolicy;
    this.upgrades = forward?.upgradeOverrides ?? NO_UPGRADES;
    this.connectTerminate = forward?.connectTerminate ?? false;
    this.extensions = forward?.extensions ?? {};
    this.retryPolicy = forward?.retryPolicy;
    this.mirrorPolicies = forward?.mirrorPolicies ?? NO_MIRRORS;
    this.maxStreamDuration = forward?.maxStreamDuration ?? NO_MAX_STREAM_DURATION;
    this.bufferLimitBytes = forward?.bufferLimitBytes ?? DEFAULT_BUFFER_LIMIT_BYTES;
    this.redirectStatus = redirect?.status ?? 0;
    this.target = redirect?.target;
    this.directStatus = direct?.status ?? 0;
    this.directBody = direct?.body === undefined ? undefined : Buffer.from(direct.body, "utf8");
  }

  static forward(name: string, vhost: string, levels: EditLevels, fc: FilterConfigs, s: ForwardSettings): RouteEntry {
    return new RouteEntry("route", name, vhost, levels, fc, s, undefined, undefined);
  }

  static redirect(
    name: string,
    vhost: string,
    levels: EditLevels,
    fc: FilterConfigs,
    status: number,
    target: RedirectTarget,
  ): RouteEntry {
    return new RouteEntry("redirect", name, vhost, levels, fc, undefined, { status, target }, undefined);
  }

  static direct(
    name: string,
    vhost: string,
    levels: EditLevels,
    fc: FilterConfigs,
    status: number,
    body: string | undefined,
  ): RouteEntry {
    return new RouteEntry("direct_response", name, vhost, levels, fc, undefined, undefined, { status, body });
  }

  perFilterConfig(filterName: string): unknown {
    return this.filterConfigs.size === 0 ? undefined : this.filterConfigs.get(filterName);
  }

  get clusters(): readonly ClusterChoice[] {
    return this.picker?.choices ?? NO_CLUSTERS;
  }

  pickCluster(): ClusterChoice {
    if (this.picker === undefined) throw new WrongRouteKindError(this.name, this.kind, "pickCluster");
    return this.picker.pick();
  }

  rewrite(req: RouteRequest): void {
    if (this.hostRewrite !== undefined) req.authority = this.hostRewrite;
    if (this.pathRewrite !== undefined) req.path = this.pathRewrite.apply(req.path);
  }

  hash(req: RouteRequest, ctx: RouteContext, setCookie?: SetCookie): number | undefined {
    return this.hashPolicy === undefined ? undefined : this.hashPolicy.hash(req, ctx, setCookie);
  }

  upgradeAllowed(type: string, listenerDefault: boolean): boolean {
    const v = this.upgrades.get(type);
    return v === undefined ? listenerDefault : v;
  }

  redirectLocation(req: RouteRequest): string {
    if (this.target === undefined) throw new WrongRouteKindError(this.name, this.kind, "redirectLocation");
    return this.target.location(req);
  }

  applyRequestHeaders(headers: Headers, req: RouteRequest, ctx: RouteContext, choice: ClusterChoice | undefined): void {
    choice?.requestEdits?.apply(headers, false, req, ctx, choice.name);
    applyLevels(this.requestLevels, headers, false, req, ctx, choice?.name);
  }

  applyResponseHeaders(
    headers: Headers,
    req: RouteRequest,
    ctx: RouteContext,
    choice: ClusterChoice | undefined,
  ): void {
    choice?.responseEdits?.apply(headers, true, req, ctx, choice.name);
    applyLevels(this.responseLevels, headers, true, req, ctx, choice?.name);
  }
}
