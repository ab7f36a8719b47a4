// VirtualService (networking.istio.io): how requests to a set of hosts are routed. Validation follows istioctl's
// (pilot/pkg/config/validation): exactly one of route/redirect/directResponse per http route, relative weights
// (not all 0) when a route splits traffic, percentages 0–100, attempts >= 0, and the deprecated spellings still in the
// wild (fault `percent`, `mirrorPercent`, corsPolicy `allowOrigin`) accepted with a warning and normalised.
// Delegation (Istio's PILOT_ENABLE_VIRTUAL_SERVICE_DELEGATE, on by default): a VirtualService without hosts is a
// delegate; a root's http route may name one with `delegate` instead of an action, and its routes are merged
// under the root's at translation (src/control/translate/delegation.ts). One level only, as in Istio.

import type {
  CorsPolicy,
  Delegate,
  Destination,
  HTTPDirectResponse,
  HTTPFaultInjection,
  Headers,
  HTTPMatchRequest,
  HTTPMirrorPolicy,
  HTTPRedirect,
  HTTPRetry,
  HTTPRewrite,
  HTTPRoute,
  HTTPRouteDestination,
  L4MatchAttributes,
  Percent,
  RouteDestination,
  StringMatch,
  TCPRoute,
  TLSMatchAttributes,
  TLSRoute,
  VirtualServiceSpec,
} from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { childPath, keyPath } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { isIP } from "node:net";
import {
  checkRegex,
  isDns1123Label,
  isDns1123Subdomain,
  readDestination,
  readExportTo,
  readHeaders,
  readHosts,
  readLabels,
  readPercent,
  readStringMatch,
  MAX_PORT,
} from "./common.ts";
import { checkRetryOn } from "./retry-on.ts";
import { assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = { known: ["hosts", "gateways", "http", "tls", "tcp", "exportTo"] };
/** An HTTP token (RFC 9110), or one of the pseudo-headers a match may name. */
const HEADER_NAME = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+|:authority|:method|:path|:scheme)$/;

export function readVirtualServiceSpec(ctx: ResourceContext, raw: unknown, path: string): VirtualServiceSpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  // No hosts (absent or empty, as Istio reads it): a delegate, whose routes only apply through a root
  // VirtualService that names it.
  const hosts = readHosts(f, "hosts", false);
  const isDelegate = hosts.length === 0 && (!f.has("hosts") || Array.isArray(f.raw("hosts")));
  const spec: VirtualServiceSpec = {
    hosts,
    gateways: f.stringList("gateways"),
    http: f.list("http").map((item) => readHttpRoute(ctx, item, isDelegate)),
    tls: f.list("tls").map((item) => readTlsRoute(ctx, item)),
    tcp: f.list("tcp").map((item) => readTcpRoute(ctx, item)),
    exportTo: readExportTo(f),
  };
  if (isDelegate && !f.broken) checkDelegate(f, spec);
  checkGatewayNames(f, "gateways", spec.gateways);
  checkDuplicateHosts(f, spec.hosts);
  if (spec.hosts.length > 0) checkSniHosts(f, spec);
  if (!spec.gateways.some((g) => g !== "mesh")) checkClaimRoutes(f, spec.http);
  const boundToMesh = spec.gateways.length === 0 || spec.gateways.includes("mesh");
  if (boundToMesh && spec.hosts.includes("*")) {
    ctx.error(
      childPath(path, "hosts"),
      'a VirtualService bound to the mesh (gateways empty or "mesh") cannot have host "*"',
    );
  }
  // One mistake, one message: a routes field of the wrong shape has been reported already.
  const misshapen = ["http", "tls", "tcp"].some((name) => f.has(name) && !Array.isArray(f.raw(name)));
  if (!f.broken && !misshapen && spec.http.length + spec.tls.length + spec.tcp.length === 0) {
    ctx.error(path, "expected at least one of http, tls, tcp");
  }
  return spec;
}

/** Istio's SubsetOf: `host` is `wild`, or falls under it (`*`, or `*.example.com` for names ending .example.com). */
function subsetOf(host: string, wild: string): boolean {
  const a = host.toLowerCase();
  const b = wild.toLowerCase();
  if (a === b || b === "*") return true;
  return b.startsWith("*.") && a.endsWith(b.slice(1));
}

/** Istio: "duplicate hosts in virtual service" — the same host twice, or one covered by another's wildcard. */
function checkDuplicateHosts(f: SpecFields, hosts: readonly string[]): void {
  for (let i = 0; i < hosts.length; i++) {
    for (let j = i + 1; j < hosts.length; j++) {
      const [a, b] = [hosts[i]!, hosts[j]!];
      if (a !== "" && b !== "" && (subsetOf(a, b) || subsetOf(b, a)))
        f.ctx.error(`${f.at("hosts")}[${j}]`, `duplicates hosts[${i}] (${describe(a)} and ${describe(b)} overlap)`);
    }
  }
}

/** A tls route's SNI hosts must be among the VirtualService's hosts (Istio's "compatible subset"). */
function checkSniHosts(f: SpecFields, spec: VirtualServiceSpec): void {
  spec.tls.forEach((route, r) => {
    route.match.forEach((match, m) => {
      match.sniHosts.forEach((sni, k) => {
        if (isIP(sni) !== 0) {
          f.ctx.warn(
            `${f.at("tls")}[${r}].match[${m}].sniHosts[${k}]`,
            `an IP address as SNI goes against the TLS spec; most clients never send it (got ${sni})`,
          );
          return;
        }
        if (sni === "" || spec.hosts.some((h) => subsetOf(sni, h))) return;
        f.ctx.error(
          `${f.at("tls")}[${r}].match[${m}].sniHosts[${k}]`,
          `expected one of the VirtualService's hosts or a name under them (${spec.hosts.join(", ")}), got ${describe(sni)}`,
        );
      });
    });
  });
}

/** Routing on JWT claims (`@request.auth.claims.…` header matches) works only at a gateway (Istio's rule). */
function checkClaimRoutes(f: SpecFields, http: readonly HTTPRoute[]): void {
  http.forEach((route, r) => {
    route.match.forEach((match, m) => {
      for (const field of ["headers", "withoutHeaders"] as const) {
        for (const name of Object.keys(match[field])) {
          if (name.startsWith("@request.auth.claims"))
            f.ctx.error(
              keyPath(`${f.at("http")}[${r}].match[${m}].${field}`, name),
              "routing on a JWT claim is only supported for gateways (this VirtualService has none)",
            );
        }
      }
    });
  });
}

/** `namespace/name`, `mesh`, or a bare or legacy `name.namespace` name (Istio warns for the legacy form). */
function checkGatewayNames(f: SpecFields, name: string, gateways: readonly string[]): void {
  gateways.forEach((gateway, i) => {
    const at = `${f.at(name)}[${i}]`;
    const slash = gateway.indexOf("/");
    if (slash >= 0) {
      const [namespace, gw] = [gateway.slice(0, slash), gateway.slice(slash + 1)];
      if (!isDns1123Label(namespace) || !isDns1123Label(gw))
        f.ctx.error(at, `expected "namespace/name" with DNS-1123 labels, got ${describe(gateway)}`);
    } else if (gateway === "" || !isDns1123Subdomain(gateway))
      f.ctx.error(at, `expected a gateway name ("namespace/name", or "mesh"), got ${describe(gateway)}`);
    else if (gateway.includes(".")) {
      const [gw, namespace] = gateway.split(".");
      f.ctx.warn(at, `legacy gateway name ${describe(gateway)}: prefer "namespace/name" (${namespace}/${gw})`);
    }
  });
}

/** Istio's rules for a delegate: it is reached only through a root, so gateways and non-HTTP routes mean nothing. */
function checkDelegate(f: SpecFields, spec: VirtualServiceSpec): void {
  if (spec.gateways.length > 0) f.error("gateways", "a delegate VirtualService (no hosts) cannot have gateways");
  if (spec.tcp.length > 0) f.error("tcp", "a delegate VirtualService (no hosts) cannot have tcp routes");
  if (spec.tls.length > 0) f.error("tls", "a delegate VirtualService (no hosts) cannot have tls routes");
}

const HTTP_ROUTE = {
  known: [
    "name",
    "match",
    "route",
    "redirect",
    "directResponse",
    "rewrite",
    "timeout",
    "retries",
    "fault",
    "mirror",
    "mirrorPercentage",
    "mirrorPercent",
    "mirrors",
    "corsPolicy",
    "headers",
    "delegate",
  ],
};

function readHttpRoute(ctx: ResourceContext, item: Item, inDelegate: boolean): HTTPRoute {
  const f = SpecFields.open(ctx, item.value, item.path, HTTP_ROUTE);
  const action = f.oneOf(["route", "redirect", "directResponse", "delegate"], true);
  const route: HTTPRoute = { match: f.list("match").map((m) => readHttpMatch(ctx, m)), mirrors: [] };
  const name = f.string("name");
  if (name !== undefined) route.name = name;
  if (action === "route") route.route = readWeighted(f, "route", readHttpRouteDestination);
  if (action === "redirect") route.redirect = readRedirect(f.message("redirect", REDIRECT));
  if (action === "directResponse") route.directResponse = readDirectResponse(f.message("directResponse", DIRECT));
  if (action === "delegate") {
    if (inDelegate) f.error("delegate", "a delegate VirtualService (no hosts) cannot delegate again: one level only");
    else route.delegate = readDelegate(f.message("delegate", DELEGATE));
  }
  if (inDelegate) checkDelegateMatches(f, route.match);
  if (f.has("rewrite")) {
    route.rewrite = readRewrite(f.message("rewrite", REWRITE));
    if (action === "redirect") f.error("rewrite", "rewrite cannot be used with redirect");
    if (action === "directResponse") f.error("rewrite", "rewrite cannot be used with directResponse");
  }
  if (f.has("fault") && (action === "redirect" || action === "directResponse"))
    f.error("fault", `fault cannot be used with ${action}`);
  const timeout = f.duration("timeout");
  if (timeout !== undefined) route.timeout = timeout;
  if (f.has("retries")) route.retries = readRetries(f.message("retries", RETRIES));
  if (f.has("fault")) route.fault = readFault(f.message("fault", FAULT));
  readMirrors(f, route);
  if (f.has("corsPolicy")) route.corsPolicy = readCors(f.message("corsPolicy", CORS));
  assign(route, "headers", readOptionalHeaders(f));
  checkAuthorityOnce(f, route);
  return route;
}

/** The authority is rewritten once: `rewrite.authority` or a request header edit of host/:authority, not both. */
function checkAuthorityOnce(f: SpecFields, route: HTTPRoute): void {
  const request = route.headers?.request;
  const edits = [...Object.keys(request?.set ?? {}), ...Object.keys(request?.add ?? {})].filter((name) =>
    ["host", ":authority"].includes(name.toLowerCase()),
  );
  const count = edits.length + (route.rewrite?.authority !== undefined ? 1 : 0);
  if (count > 1) f.error("headers", "the authority is set more than once (rewrite.authority and header edits of host)");
}

const DELEGATE = { known: ["name", "namespace"] };

function readDelegate(f: SpecFields): Delegate {
  const out: Delegate = { name: f.requiredString("name") };
  const namespace = f.string("namespace");
  if (namespace !== undefined && namespace !== "") out.namespace = namespace;
  return out;
}

/** Who may send a request is the root's to say (Istio validates delegates the same way). */
function checkDelegateMatches(f: SpecFields, matches: readonly HTTPMatchRequest[]): void {
  matches.forEach((m, i) => {
    const at = `${f.at("match")}[${i}]`;
    if (Object.keys(m.sourceLabels).length > 0)
      f.ctx.error(`${at}.sourceLabels`, "a delegate VirtualService cannot match on sourceLabels; the root does");
    if (m.gateways.length > 0)
      f.ctx.error(`${at}.gateways`, "a delegate VirtualService cannot match on gateways; the root does");
    if (m.sourceNamespace !== undefined)
      f.ctx.error(`${at}.sourceNamespace`, "a delegate VirtualService cannot match on sourceNamespace; the root does");
  });
}

const MATCH = {
  known: [
    "name",
    "uri",
    "scheme",
    "method",
    "authority",
    "headers",
    "port",
    "sourceLabels",
    "gateways",
    "queryParams",
    "ignoreUriCase",
    "withoutHeaders",
    "sourceNamespace",
    "statPrefix",
  ],
};

function readHttpMatch(ctx: ResourceContext, item: Item): HTTPMatchRequest {
  const f = SpecFields.open(ctx, item.value, item.path, MATCH);
  const match: HTTPMatchRequest = {
    headers: readMatchMap(f, "headers"),
    withoutHeaders: readMatchMap(f, "withoutHeaders"),
    queryParams: readMatchMap(f, "queryParams"),
    sourceLabels: readLabels(f, "sourceLabels"),
    gateways: f.stringList("gateways"),
    ignoreUriCase: f.bool("ignoreUriCase") ?? false,
  };
  for (const field of ["uri", "scheme", "method", "authority"] as const) {
    if (f.has(field)) match[field] = readStringMatch(ctx, f.raw(field), f.at(field));
  }
  for (const field of ["name", "sourceNamespace", "statPrefix"] as const) {
    const value = f.string(field);
    if (value !== undefined) match[field] = value;
  }
  if (match.sourceNamespace !== undefined && !isDns1123Label(match.sourceNamespace))
    f.error("sourceNamespace", `expected a namespace name, got ${describe(match.sourceNamespace)}`);
  checkGatewayNames(f, "gateways", match.gateways);
  const port = f.integer("port", 1, MAX_PORT);
  if (port !== undefined) match.port = port;
  return match;
}

/** headers / withoutHeaders / queryParams: name → match, where `{}` means "present". */
function readMatchMap(f: SpecFields, name: string): Record<string, StringMatch> {
  const out: Record<string, StringMatch> = {};
  for (const entry of f.entries(name)) {
    if (entry.key === "") f.ctx.error(entry.path, "expected a non-empty name");
    else if (name !== "queryParams" && !HEADER_NAME.test(entry.key) && !entry.key.startsWith("@request.auth.claims"))
      f.ctx.error(entry.path, `expected a header name, got ${describe(entry.key)}`);
    out[entry.key] = readStringMatch(f.ctx, entry.value ?? {}, entry.path, true);
  }
  return out;
}

/**
 * A route's destinations. Weights are relative (Istio no longer asks for a sum of 100: 1 and 3 send a quarter and
 * three quarters); with more than one destination they must not all be 0 (Istio: "total destination weight = 0").
 */
function readWeighted<T extends { weight?: number }>(
  f: SpecFields,
  name: string,
  read: (ctx: ResourceContext, item: Item) => T,
): T[] {
  const items = f.list(name);
  if (f.has(name) && items.length === 0 && Array.isArray(f.raw(name)))
    f.error(name, "expected at least one destination");
  const destinations = items.map((item) => read(f.ctx, item));
  if (destinations.length > 1) {
    const total = destinations.reduce((sum, d) => sum + (d.weight ?? 0), 0);
    if (total === 0)
      f.error(name, "expected the weights of its destinations to sum to more than 0 (they are relative), got 0");
  }
  return destinations;
}

/** Istio's weight is an int32 >= 0. */
function readWeight(f: SpecFields): number | undefined {
  return f.integer("weight", 0, 2_147_483_647);
}

function readHttpRouteDestination(ctx: ResourceContext, item: Item): HTTPRouteDestination {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["destination", "weight", "headers"] });
  const out: HTTPRouteDestination = { destination: readRequiredDestination(f) };
  const weight = readWeight(f);
  if (weight !== undefined) out.weight = weight;
  assign(out, "headers", readOptionalHeaders(f));
  return out;
}

function readRouteDestination(ctx: ResourceContext, item: Item): RouteDestination {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["destination", "weight"] });
  const out: RouteDestination = { destination: readRequiredDestination(f) };
  const weight = readWeight(f);
  if (weight !== undefined) out.weight = weight;
  return out;
}

/** Header edits, left out when they edit nothing (so a resource reads the same after a round trip). */
function readOptionalHeaders(f: SpecFields): Headers | undefined {
  if (!f.has("headers")) return undefined;
  const headers = readHeaders(f.ctx, f.raw("headers"), f.at("headers"));
  return headers.request === undefined && headers.response === undefined ? undefined : headers;
}

/** `destination`, required: missing is one problem (not a second one for its host). */
function readRequiredDestination(f: SpecFields): Destination {
  if (!f.require("destination")) return { host: "" };
  return readDestination(f.ctx, f.raw("destination"), f.at("destination"));
}

const REDIRECT = { known: ["uri", "authority", "port", "derivePort", "scheme", "redirectCode"] };

function readRedirect(f: SpecFields): HTTPRedirect {
  const out: HTTPRedirect = {};
  f.oneOf(["port", "derivePort"], false);
  for (const field of ["uri", "authority", "scheme"] as const) {
    const value = f.string(field);
    if (value !== undefined) out[field] = value;
  }
  const port = f.integer("port", 1, MAX_PORT);
  if (port !== undefined) out.port = port;
  const derivePort = f.enumValue("derivePort", ["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"] as const);
  if (derivePort !== undefined) out.derivePort = derivePort;
  if (out.scheme !== undefined && out.scheme !== "http" && out.scheme !== "https")
    f.error("scheme", `expected "http" or "https", got ${describe(out.scheme)}`);
  const code = f.integer("redirectCode", 300, 399);
  if (code !== undefined) out.redirectCode = code;
  if (!f.broken && Object.keys(out).length === 0)
    f.ctx.error(f.path, "expected at least one of uri, authority, scheme, port, derivePort");
  return out;
}

const DIRECT = { known: ["status", "body"] };

function readDirectResponse(f: SpecFields): HTTPDirectResponse {
  f.require("status");
  const out: HTTPDirectResponse = { status: f.integer("status", 200, 599) ?? 200 };
  if (f.has("body")) {
    const body = f.message("body", { known: ["string", "bytes"] });
    const which = body.oneOf(["string", "bytes"], true);
    if (which !== undefined) out.body = { [which]: body.string(which) ?? "" };
  }
  return out;
}

const REWRITE = { known: ["uri", "authority", "uriRegexRewrite"] };

function readRewrite(f: SpecFields): HTTPRewrite {
  const out: HTTPRewrite = {};
  f.oneOf(["uri", "uriRegexRewrite"], false);
  const uri = f.string("uri");
  const authority = f.string("authority");
  if (uri !== undefined) out.uri = uri;
  if (authority !== undefined) out.authority = authority;
  if (f.has("uriRegexRewrite")) {
    const r = f.message("uriRegexRewrite", { known: ["match", "rewrite"] });
    const match = r.requiredString("match");
    checkRegex(f.ctx, r.at("match"), match);
    r.require("rewrite");
    out.uriRegexRewrite = { match, rewrite: r.string("rewrite") ?? "" };
  }
  if (!f.broken && Object.keys(out).length === 0)
    f.ctx.error(f.path, "expected at least one of uri, authority, uriRegexRewrite");
  return out;
}

const RETRIES = { known: ["attempts", "perTryTimeout", "retryOn", "retryRemoteLocalities"] };

function readRetries(f: SpecFields): HTTPRetry {
  const out: HTTPRetry = { attempts: f.integer("attempts", 0, 2_147_483_647) ?? 0 };
  const perTry = f.duration("perTryTimeout", 1);
  if (perTry !== undefined) out.perTryTimeout = perTry;
  const retryOn = f.string("retryOn");
  if (retryOn !== undefined) {
    checkRetryOn(f.ctx, f.at("retryOn"), retryOn);
    out.retryOn = retryOn;
  }
  const remote = f.bool("retryRemoteLocalities");
  if (remote !== undefined) out.retryRemoteLocalities = remote;
  return out;
}

const FAULT = { known: ["delay", "abort"] };
const DELAY = {
  known: ["fixedDelay", "percentage", "percent"],
  refused: { exponentialDelay: "exponentialDelay is not supported (Istio does not implement it either)" },
};
const ABORT = {
  known: ["httpStatus", "grpcStatus", "percentage", "percent"],
  refused: { http2Error: "http2Error is not supported" },
};

function readFault(f: SpecFields): HTTPFaultInjection {
  const out: HTTPFaultInjection = {};
  if (!f.broken && !f.has("delay") && !f.has("abort")) f.ctx.error(f.path, "expected at least one of delay, abort");
  if (f.has("delay")) {
    const d = f.message("delay", DELAY);
    d.require("fixedDelay");
    out.delay = { fixedDelay: d.duration("fixedDelay", 1) ?? 0 };
    const percentage = readFaultPercentage(d);
    if (percentage !== undefined) out.delay.percentage = percentage;
  }
  if (f.has("abort")) {
    const a = f.message("abort", ABORT);
    const which = a.oneOf(["httpStatus", "grpcStatus"], true);
    out.abort = {};
    if (which === "httpStatus") out.abort.httpStatus = a.integer("httpStatus", 200, 599);
    if (which === "grpcStatus") out.abort.grpcStatus = a.string("grpcStatus");
    const percentage = readFaultPercentage(a);
    if (percentage !== undefined) out.abort.percentage = percentage;
  }
  return out;
}

/** `percentage: {value}`, or the deprecated integer `percent` (Istio 1.0's spelling) normalised into it. */
function readFaultPercentage(f: SpecFields): Percent | undefined {
  f.oneOf(["percentage", "percent"], false);
  if (f.has("percentage")) return readPercent(f.ctx, f.raw("percentage"), f.at("percentage"));
  if (!f.has("percent")) return undefined;
  const percent = f.integer("percent", 0, 100);
  if (percent === undefined) return undefined;
  f.warn("percent", `"percent" is deprecated: read as "percentage: {value: ${percent}}"; write that instead`);
  return { value: percent };
}

function readMirrors(f: SpecFields, route: HTTPRoute): void {
  if (f.has("mirror") && f.has("mirrors")) f.ctx.error(f.path, "only one of mirror, mirrors may be set");
  if (f.has("mirror")) route.mirror = readDestination(f.ctx, f.raw("mirror"), f.at("mirror"));
  f.oneOf(["mirrorPercentage", "mirrorPercent"], false);
  if (f.has("mirrorPercentage"))
    route.mirrorPercentage = readPercent(f.ctx, f.raw("mirrorPercentage"), f.at("mirrorPercentage"));
  else if (f.has("mirrorPercent")) {
    const percent = f.integer("mirrorPercent", 0, 100);
    if (percent !== undefined) {
      f.warn(
        "mirrorPercent",
        `"mirrorPercent" is deprecated: read as "mirrorPercentage: {value: ${percent}}"; write that instead`,
      );
      route.mirrorPercentage = { value: percent };
    }
  }
  if ((f.has("mirrorPercentage") || f.has("mirrorPercent")) && !f.has("mirror")) {
    f.ctx.error(f.path, 'mirrorPercentage needs "mirror" (with "mirrors", give each its own percentage)');
  }
  route.mirrors = f.list("mirrors").map((item): HTTPMirrorPolicy => {
    const m = SpecFields.open(f.ctx, item.value, item.path, { known: ["destination", "percentage"] });
    const policy: HTTPMirrorPolicy = { destination: readRequiredDestination(m) };
    if (m.has("percentage")) policy.percentage = readPercent(f.ctx, m.raw("percentage"), m.at("percentage"));
    return policy;
  });
}

const CORS = {
  known: [
    "allowOrigins",
    "allowOrigin",
    "allowMethods",
    "allowHeaders",
    "exposeHeaders",
    "maxAge",
    "allowCredentials",
    "unmatchedPreflights",
  ],
};
const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "*"];

function readCors(f: SpecFields): CorsPolicy {
  const out: CorsPolicy = {
    allowOrigins: f.list("allowOrigins").map((item) => readStringMatch(f.ctx, item.value, item.path)),
    allowMethods: f.stringList("allowMethods"),
    allowHeaders: f.stringList("allowHeaders"),
    exposeHeaders: f.stringList("exposeHeaders"),
  };
  if (f.has("allowOrigin")) {
    const origins = f.stringList("allowOrigin");
    f.warn("allowOrigin", '"allowOrigin" is deprecated: read as "allowOrigins" with exact matches; write that instead');
    out.allowOrigins.push(...origins.map((exact) => ({ exact })));
  }
  out.allowMethods.forEach((method, i) => {
    if (!HTTP_METHODS.includes(method)) {
      f.ctx.error(
        `${f.at("allowMethods")}[${i}]`,
        `expected an HTTP method (${HTTP_METHODS.join(", ")}), got ${describe(method)}`,
      );
    }
  });
  const maxAge = f.duration("maxAge");
  if (maxAge !== undefined) out.maxAge = maxAge;
  const credentials = f.bool("allowCredentials");
  if (credentials !== undefined) out.allowCredentials = credentials;
  const preflights = f.enumValue("unmatchedPreflights", ["UNSPECIFIED", "FORWARD", "IGNORE"] as const);
  if (preflights !== undefined) out.unmatchedPreflights = preflights;
  return out;
}

const L4_MATCH = ["destinationSubnets", "port", "sourceLabels", "gateways", "sourceNamespace"];

function readL4Match(f: SpecFields): L4MatchAttributes {
  const out: L4MatchAttributes = {
    destinationSubnets: f.stringList("destinationSubnets"),
    sourceLabels: readLabels(f, "sourceLabels"),
    gateways: f.stringList("gateways"),
  };
  const port = f.integer("port", 1, MAX_PORT);
  if (port !== undefined) out.port = port;
  const sourceNamespace = f.string("sourceNamespace");
  if (sourceNamespace !== undefined) out.sourceNamespace = sourceNamespace;
  return out;
}

function readTcpRoute(ctx: ResourceContext, item: Item): TCPRoute {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["match", "route"] });
  f.require("route");
  return {
    match: f.list("match").map((m) => readL4Match(SpecFields.open(ctx, m.value, m.path, { known: L4_MATCH }))),
    route: readWeighted(f, "route", readRouteDestination),
  };
}

function readTlsRoute(ctx: ResourceContext, item: Item): TLSRoute {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["match", "route"] });
  f.require("match");
  f.require("route");
  const match = f.list("match").map((m): TLSMatchAttributes => {
    const mf = SpecFields.open(ctx, m.value, m.path, { known: ["sniHosts", ...L4_MATCH] });
    const sniHosts = readHosts(mf, "sniHosts", true);
    return { ...readL4Match(mf), sniHosts };
  });
  return { match, route: readWeighted(f, "route", readRouteDestination) };
}
