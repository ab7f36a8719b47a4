// Reading the Gateway API's GatewayClass, Gateway and HTTPRoute (gateway.networking.k8s.io/v1), field by field with
// the checks the API's CRD schema (kubebuilder markers, CEL rules in apis/v1/*.go) and webhook make: an error names
// the field path and what was expected. Fields of the API that Trellis does not carry out (Gateway addresses and
// infrastructure, TLS options, ExtensionRef and CORS filters, sessionPersistence, retry, backendRefs' own filters)
// are refused with the reason, never stored and ignored.

import type { ResourceContext } from "../context.ts";
import type { Item } from "../fields.ts";
import { SpecFields } from "../fields.ts";
import { checkRegex } from "../common.ts";
import { parseIstioDuration } from "../duration.ts";
import { assign } from "../traffic-policy.ts";
import { describe } from "../../xds/parse/context.ts";
import type {
  AllowedRoutes,
  BackendObjectReference,
  GatewayClassSpec,
  GatewayTLSConfig,
  GRPCMethodMatch,
  GRPCRouteFilter,
  GRPCRouteMatch,
  GRPCRouteRule,
  GRPCRouteSpec,
  HTTPBackendRef,
  HTTPHeaderFilter,
  HTTPPathModifier,
  HTTPRequestMirrorFilter,
  HTTPRouteFilter,
  HTTPRouteMatch,
  HTTPRouteRule,
  HTTPRouteSpec,
  HTTPValueMatch,
  KubernetesGatewaySpec,
  Listener,
  L4RouteRule,
  ParentReference,
  ReferenceGrantSpec,
  SecretObjectReference,
  TCPRouteSpec,
  TLSRouteSpec,
} from "./types.ts";
import { GATEWAY_API_GROUP, HTTP_FILTER_TYPES, HTTP_METHODS, LISTENER_PROTOCOLS } from "./types.ts";

const NOT_CARRIED = "is not carried out by Trellis's gateways: refused rather than ignored";

// Patterns of the API's types (apis/v1/shared_types.go).
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PRECISE_HOSTNAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECTION_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONTROLLER = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const GROUP = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KIND = /^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;
const DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;

// --- GatewayClass ------------------------------------------------------------------------------------------------

export function readGatewayClassSpec(ctx: ResourceContext, raw: unknown, path: string): GatewayClassSpec {
  const f = SpecFields.open(ctx, raw, path, {
    known: ["controllerName", "description"],
    refused: { parametersRef: `parametersRef ${NOT_CARRIED}` },
  });
  const controllerName = f.requiredString("controllerName");
  if (controllerName !== "" && (controllerName.length > 253 || !CONTROLLER.test(controllerName)))
    f.error(
      "controllerName",
      `expected a domain-prefixed path (like istio.io/gateway-controller), got ${describe(controllerName)}`,
    );
  const out: GatewayClassSpec = { controllerName };
  const description = f.string("description");
  if (description !== undefined && description.length > 64)
    f.error("description", `expected at most 64 characters, got ${description.length}`);
  assign(out, "description", description);
  return out;
}

// --- Gateway -----------------------------------------------------------------------------------------------------

export function readKubernetesGatewaySpec(ctx: ResourceContext, raw: unknown, path: string): KubernetesGatewaySpec {
  const f = SpecFields.open(ctx, raw, path, {
    known: ["gatewayClassName", "listeners"],
    refused: {
      addresses: `addresses ${NOT_CARRIED} (a gateway listens where \`trellis gateway\` runs)`,
      infrastructure: `infrastructure ${NOT_CARRIED} (run \`trellis gateway\` with the labels yourself)`,
      backendTLS: `backendTLS ${NOT_CARRIED}`,
    },
  });
  const gatewayClassName = f.requiredString("gatewayClassName");
  if (gatewayClassName.length > 253) f.error("gatewayClassName", "expected at most 253 characters");
  const items = f.list("listeners");
  if (!f.broken && items.length === 0) f.error("listeners", "required: at least one listener");
  if (items.length > 64) f.error("listeners", `expected at most 64 listeners, got ${items.length}`);
  const listeners = items.map((item) => readListener(ctx, item));
  const names = new Set<string>();
  const combos = new Set<string>();
  listeners.forEach((l, i) => {
    const at = `${f.at("listeners")}[${i}]`;
    if (l.name !== "" && names.has(l.name))
      ctx.error(`${at}.name`, `listener name "${l.name}" is used by another listener`);
    names.add(l.name);
    const combo = `${l.port}/${l.protocol}/${l.hostname ?? ""}`;
    if (combos.has(combo))
      ctx.error(at, `expected port, protocol and hostname to be unique among listeners; another has ${combo}`);
    combos.add(combo);
  });
  return { gatewayClassName, listeners };
}

function readListener(ctx: ResourceContext, item: Item): Listener {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["name", "hostname", "port", "protocol", "tls", "allowedRoutes"],
  });
  const name = f.requiredString("name");
  if (name !== "" && (name.length > 253 || !SECTION_NAME.test(name)))
    f.error("name", `expected a section name (lower case DNS-1123 subdomain), got ${describe(name)}`);
  let protocol = "HTTP" as Listener["protocol"];
  if (f.require("protocol")) {
    const raw = f.raw("protocol");
    if (typeof raw === "string" && (LISTENER_PROTOCOLS as readonly string[]).includes(raw))
      protocol = raw as Listener["protocol"];
    else
      f.error(
        "protocol",
        `expected one of ${LISTENER_PROTOCOLS.join(", ")}${raw === "UDP" ? " (UDP listeners are not carried out)" : ""}, got ${describe(raw)}`,
      );
  }
  const port = f.require("port") ? (f.integer("port", 1, 65_535) ?? 0) : 0;
  const listener: Listener = { name, port, protocol, allowedRoutes: readAllowedRoutes(f) };
  const hostname = f.string("hostname");
  if (hostname !== undefined) {
    checkHostname(f, "hostname", hostname, true);
    if (protocol === "TCP") f.error("hostname", "must not be set for a TCP listener (hostnames need HTTP or SNI)");
    listener.hostname = hostname;
  }
  if (f.has("tls")) {
    if (protocol === "HTTP" || protocol === "TCP") f.error("tls", `must not be set for an ${protocol} listener`);
    listener.tls = readListenerTls(f.message("tls", { known: ["mode", "certificateRefs"], refused: TLS_REFUSED }));
    if (protocol === "HTTPS" && listener.tls.mode === "Passthrough")
      f.error("tls.mode", "expected Terminate on an HTTPS listener (Passthrough is for TLS listeners)");
  } else if ((protocol === "HTTPS" || protocol === "TLS") && !f.broken)
    f.error("tls", `required for a ${protocol} listener`);
  return listener;
}

const TLS_REFUSED = {
  options: `options ${NOT_CARRIED}`,
  frontendValidation: `frontendValidation (client certificates) ${NOT_CARRIED}`,
};

function readListenerTls(f: SpecFields): GatewayTLSConfig {
  const mode = f.enumValue("mode", ["Terminate", "Passthrough"] as const) ?? "Terminate";
  const refs = f.list("certificateRefs");
  if (refs.length > 64) f.error("certificateRefs", `expected at most 64, got ${refs.length}`);
  const certificateRefs = refs.map((item): SecretObjectReference => {
    const r = SpecFields.open(f.ctx, item.value, item.path, { known: ["group", "kind", "name", "namespace"] });
    const ref: SecretObjectReference = {
      group: readGroup(r, ""),
      kind: readKind(r, "Secret"),
      name: readObjectName(r, "name"),
    };
    assign(ref, "namespace", readNamespace(r));
    return ref;
  });
  if (mode === "Terminate" && certificateRefs.length === 0 && !f.broken)
    f.error("certificateRefs", "required when mode is Terminate (a secret created with `trellis create secret tls`)");
  if (mode === "Passthrough" && certificateRefs.length > 0)
    f.error("certificateRefs", "must be empty when mode is Passthrough (the backend terminates TLS)");
  return { mode, certificateRefs };
}

function readAllowedRoutes(f: SpecFields): AllowedRoutes {
  const out: AllowedRoutes = { namespaces: { from: "Same" }, kinds: [] };
  if (!f.has("allowedRoutes")) return out;
  const a = f.message("allowedRoutes", { known: ["namespaces", "kinds"] });
  if (a.has("namespaces")) {
    const n = a.message("namespaces", { known: ["from", "selector"] });
    out.namespaces.from = n.enumValue("from", ["All", "Same", "Selector"] as const) ?? "Same";
    if (n.has("selector")) {
      const s = n.message("selector", {
        known: ["matchLabels"],
        refused: { matchExpressions: `matchExpressions ${NOT_CARRIED} (use matchLabels)` },
      });
      out.namespaces.selector = { matchLabels: s.stringMap("matchLabels") };
      if (out.namespaces.from !== "Selector") n.warn("selector", 'has no effect unless from is "Selector"');
    } else if (out.namespaces.from === "Selector") n.error("selector", 'required when from is "Selector"');
  }
  out.kinds = a.list("kinds").map((item) => {
    const k = SpecFields.open(f.ctx, item.value, item.path, { known: ["group", "kind"] });
    return { group: readGroup(k, GATEWAY_API_GROUP), kind: k.has("kind") ? readKind(k, "") : (k.require("kind"), "") };
  });
  return out;
}

// --- HTTPRoute ---------------------------------------------------------------------------------------------------

export function readHTTPRouteSpec(ctx: ResourceContext, raw: unknown, path: string): HTTPRouteSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["parentRefs", "hostnames", "rules"] });
  const parentRefs = readParentRefs(ctx, f);
  const hostnames = readRouteHostnames(f);
  return { parentRefs, hostnames, rules: readRouteRules(ctx, f, defaultRule, readRule) };
}

function defaultRule(): HTTPRouteRule {
  return { matches: [defaultMatch()], filters: [], backendRefs: [] };
}

function defaultMatch(): HTTPRouteMatch {
  return { path: { type: "PathPrefix", value: "/" }, headers: [], queryParams: [] };
}

/** The spec header every route kind shares: parentRefs, at most 32. */
function readParentRefs(ctx: ResourceContext, f: SpecFields): ParentReference[] {
  const parents = f.list("parentRefs");
  if (parents.length > 32) f.error("parentRefs", `expected at most 32, got ${parents.length}`);
  return parents.map((item) => readParentRef(ctx, item));
}

/** A route's hostnames (HTTPRoute, GRPCRoute, TLSRoute): at most 16, each a hostname that may start with "*.". */
function readRouteHostnames(f: SpecFields): string[] {
  const hostnames = f.stringList("hostnames");
  if (hostnames.length > 16) f.error("hostnames", `expected at most 16, got ${hostnames.length}`);
  hostnames.forEach((h, i) => checkHostname(f, `hostnames[${i}]`, h, true));
  return hostnames;
}

/** HTTPRoute's and GRPCRoute's rules: at most 16; with rules absent, the one default rule the API defaults to. */
function readRouteRules<R>(
  ctx: ResourceContext,
  f: SpecFields,
  defaultRule: () => R,
  readOne: (ctx: ResourceContext, item: Item) => R,
): R[] {
  const ruleItems = f.list("rules");
  if (ruleItems.length > 16) f.error("rules", `expected at most 16, got ${ruleItems.length}`);
  return ruleItems.length === 0 && !f.has("rules") ? [defaultRule()] : ruleItems.map((r) => readOne(ctx, r));
}

function readParentRef(ctx: ResourceContext, item: Item): ParentReference {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["group", "kind", "namespace", "name", "sectionName", "port"],
  });
  const ref: ParentReference = {
    group: readGroup(f, GATEWAY_API_GROUP),
    kind: readKind(f, "Gateway"),
    name: readObjectName(f, "name"),
  };
  assign(ref, "namespace", readNamespace(f));
  if (ref.kind === "Service" && ref.group === "")
    f.error("kind", "a Service parent (GAMMA mesh routing) is not carried out by Trellis yet: use a VirtualService");
  else if (ref.kind !== "Gateway" || ref.group !== GATEWAY_API_GROUP)
    f.error("kind", `expected a Gateway (group ${GATEWAY_API_GROUP}), got ${ref.group}/${ref.kind}`);
  const section = f.string("sectionName");
  if (section !== undefined && (section.length > 253 || !SECTION_NAME.test(section)))
    f.error("sectionName", `expected a section name (lower case DNS-1123 subdomain), got ${describe(section)}`);
  assign(ref, "sectionName", section);
  assign(ref, "port", f.integer("port", 1, 65_535));
  return ref;
}

function readRule(ctx: ResourceContext, item: Item): HTTPRouteRule {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["name", "matches", "filters", "backendRefs", "timeouts"],
    refused: {
      sessionPersistence: `sessionPersistence ${NOT_CARRIED}`,
      retry: `retry ${NOT_CARRIED} (an Istio VirtualService's retries can)`,
    },
  });
  const matchItems = f.list("matches");
  if (matchItems.length > 64) f.error("matches", `expected at most 64, got ${matchItems.length}`);
  const matches = matchItems.length === 0 ? [defaultMatch()] : matchItems.map((m) => readMatch(ctx, m));
  const filterItems = f.list("filters");
  if (filterItems.length > 16) f.error("filters", `expected at most 16, got ${filterItems.length}`);
  const filters = filterItems.map((fi) => readFilter(ctx, fi)).filter((x) => x !== undefined);
  const backendItems = f.list("backendRefs");
  if (backendItems.length > 16) f.error("backendRefs", `expected at most 16, got ${backendItems.length}`);
  const backendRefs = backendItems.map((b) => readBackendRef(ctx, b));
  const rule: HTTPRouteRule = { matches, filters, backendRefs };
  const name = f.string("name");
  if (name !== undefined && !SECTION_NAME.test(name))
    f.error("name", `expected a section name (lower case DNS-1123 subdomain), got ${describe(name)}`);
  assign(rule, "name", name);
  checkFilters(f, filters, matches, backendRefs);
  if (f.has("timeouts")) {
    const t = f.message("timeouts", { known: ["request", "backendRequest"] });
    const timeouts: NonNullable<HTTPRouteRule["timeouts"]> = {};
    assign(timeouts, "request", readDuration(t, "request"));
    assign(timeouts, "backendRequest", readDuration(t, "backendRequest"));
    const { request, backendRequest } = timeouts;
    if (request !== undefined && backendRequest !== undefined && request !== 0 && backendRequest > request)
      t.error("backendRequest", "expected backendRequest to be no longer than request");
    rule.timeouts = timeouts;
  }
  return rule;
}

/** The CEL rules of HTTPRouteRule about its filters. */
function checkFilters(
  f: SpecFields,
  filters: HTTPRouteFilter[],
  matches: HTTPRouteMatch[],
  backendRefs: HTTPBackendRef[],
): void {
  const count = (type: string): number => filters.filter((x) => x.type === type).length;
  for (const type of ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite"])
    if (count(type) > 1) f.error("filters", `expected at most one ${type} filter, got ${count(type)}`);
  if (count("RequestRedirect") > 0 && count("URLRewrite") > 0)
    f.error("filters", "RequestRedirect and URLRewrite filters cannot both be set");
  if (count("RequestRedirect") > 0 && backendRefs.length > 0)
    f.error("backendRefs", "must be empty with a RequestRedirect filter (the redirect is the answer)");
  const prefixRewrite = filters.some(
    (x) =>
      (x.type === "RequestRedirect" && x.requestRedirect.path?.type === "ReplacePrefixMatch") ||
      (x.type === "URLRewrite" && x.urlRewrite.path?.type === "ReplacePrefixMatch"),
  );
  if (prefixRewrite && (matches.length !== 1 || matches[0]!.path.type !== "PathPrefix"))
    f.error("matches", "expected exactly one match, of path type PathPrefix, with a ReplacePrefixMatch path modifier");
}

function readMatch(ctx: ResourceContext, item: Item): HTTPRouteMatch {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["path", "headers", "queryParams", "method"] });
  const match = defaultMatch();
  if (f.has("path")) {
    const p = f.message("path", { known: ["type", "value"] });
    match.path.type = p.enumValue("type", ["Exact", "PathPrefix", "RegularExpression"] as const) ?? "PathPrefix";
    match.path.value = p.string("value") ?? "/";
    checkPath(p, match.path.type, match.path.value);
  }
  match.headers = readValueMatches(f, "headers", true);
  match.queryParams = readValueMatches(f, "queryParams", false);
  assign(match, "method", f.enumValue("method", HTTP_METHODS));
  return match;
}

function checkPath(p: SpecFields, type: string, value: string): void {
  if (value.length > 1024) p.error("value", `expected at most 1024 characters, got ${value.length}`);
  if (type === "RegularExpression") {
    checkRegex(p.ctx, p.at("value"), value);
    return;
  }
  if (!value.startsWith("/")) p.error("value", `expected an absolute path starting with "/", got ${describe(value)}`);
  for (const bad of ["//", "/./", "/../", "%2f", "%2F", "#"])
    if (value.includes(bad)) p.error("value", `must not contain ${JSON.stringify(bad)}, got ${describe(value)}`);
  if (value.endsWith("/..") || value.endsWith("/."))
    p.error("value", `must not end with "/.." or "/.", got ${describe(value)}`);
}

function readValueMatches(f: SpecFields, field: "headers" | "queryParams", caseInsensitive: boolean): HTTPValueMatch[] {
  const items = f.list(field);
  if (items.length > 16) f.error(field, `expected at most 16, got ${items.length}`);
  const seen = new Set<string>();
  return items.map((item) => {
    const m = SpecFields.open(f.ctx, item.value, item.path, { known: ["type", "name", "value"] });
    const name = m.requiredString("name");
    if (name !== "" && !HEADER_NAME.test(name)) m.error("name", `expected an HTTP header name, got ${describe(name)}`);
    const key = caseInsensitive ? name.toLowerCase() : name;
    if (name !== "" && seen.has(key)) m.error("name", `"${name}" is matched by another entry of ${field}`);
    seen.add(key);
    const type = m.enumValue("type", ["Exact", "RegularExpression"] as const) ?? "Exact";
    const value = m.require("value") ? (m.string("value") ?? "") : "";
    if (value.length > 4096) m.error("value", "expected at most 4096 characters");
    if (type === "RegularExpression") checkRegex(f.ctx, m.at("value"), value);
    return { type, name, value };
  });
}

const FILTER_FIELDS: Record<(typeof HTTP_FILTER_TYPES)[number], string> = {
  RequestHeaderModifier: "requestHeaderModifier",
  ResponseHeaderModifier: "responseHeaderModifier",
  RequestMirror: "requestMirror",
  RequestRedirect: "requestRedirect",
  URLRewrite: "urlRewrite",
};

function readFilter(ctx: ResourceContext, item: Item): HTTPRouteFilter | undefined {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["type", ...Object.values(FILTER_FIELDS)],
    refused: {
      extensionRef: `extensionRef ${NOT_CARRIED}`,
      cors: `cors ${NOT_CARRIED} (an Istio VirtualService's corsPolicy can)`,
    },
  });
  if (!f.require("type")) return undefined;
  const type = f.raw("type");
  if (type === "ExtensionRef" || type === "CORS") {
    f.error("type", `${type} ${NOT_CARRIED}`);
    return undefined;
  }
  const known = f.enumValue("type", HTTP_FILTER_TYPES);
  if (known === undefined) return undefined;
  const field = FILTER_FIELDS[known];
  for (const [other, otherField] of Object.entries(FILTER_FIELDS))
    if (other !== known && f.has(otherField)) f.error(otherField, `must not be set when type is ${known}`);
  if (!f.require(field)) return undefined;
  switch (known) {
    case "RequestHeaderModifier":
      return { type: known, requestHeaderModifier: readHeaderFilter(f.message(field, HEADER_FILTER)) };
    case "ResponseHeaderModifier":
      return { type: known, responseHeaderModifier: readHeaderFilter(f.message(field, HEADER_FILTER)) };
    case "RequestMirror": {
      const m = f.message(field, { known: ["backendRef", "percent", "fraction"] });
      const backendRef = m.require("backendRef")
        ? readBackendObjectRef(m.message("backendRef", { known: ["group", "kind", "name", "namespace", "port"] }))
        : { group: "", kind: "Service", name: "" };
      const out: HTTPRequestMirrorFilter = { backendRef };
      if (m.oneOf(["percent", "fraction"], false) === "fraction") {
        const fr = m.message("fraction", { known: ["numerator", "denominator"] });
        const numerator = fr.require("numerator") ? (fr.integer("numerator", 0, 2_147_483_647) ?? 0) : 0;
        const denominator = fr.integer("denominator", 1, 2_147_483_647) ?? 100;
        if (numerator > denominator) fr.error("numerator", "expected numerator <= denominator");
        out.fraction = { numerator, denominator };
      } else assign(out, "percent", m.integer("percent", 0, 100));
      return { type: known, requestMirror: out };
    }
    case "RequestRedirect": {
      const r = f.message(field, { known: ["scheme", "hostname", "path", "port", "statusCode"] });
      const out: Extract<HTTPRouteFilter, { type: "RequestRedirect" }>["requestRedirect"] = {
        statusCode: 302,
      };
      assign(out, "scheme", r.enumValue("scheme", ["http", "https"] as const));
      const hostname = r.string("hostname");
      if (hostname !== undefined) checkHostname(r, "hostname", hostname, false);
      assign(out, "hostname", hostname);
      if (r.has("path")) {
        out.path = readPathModifier(r);
        // Istio's redirect replaces the whole path; Trellis has no prefix redirect to convert this into.
        if (out.path.type === "ReplacePrefixMatch")
          r.error("path.type", `ReplacePrefixMatch in a redirect ${NOT_CARRIED} (ReplaceFullPath is)`);
      }
      assign(out, "port", r.integer("port", 1, 65_535));
      if (r.has("statusCode")) {
        const code = r.raw("statusCode");
        if (typeof code === "number" && [301, 302, 303, 307, 308].includes(code)) out.statusCode = code;
        else r.error("statusCode", `expected one of 301, 302, 303, 307, 308, got ${describe(code)}`);
      }
      return { type: known, requestRedirect: out };
    }
    case "URLRewrite": {
      const r = f.message(field, { known: ["hostname", "path"] });
      const out: Extract<HTTPRouteFilter, { type: "URLRewrite" }>["urlRewrite"] = {};
      const hostname = r.string("hostname");
      if (hostname !== undefined) checkHostname(r, "hostname", hostname, false);
      assign(out, "hostname", hostname);
      if (r.has("path")) out.path = readPathModifier(r);
      return { type: known, urlRewrite: out };
    }
  }
}

const HEADER_FILTER = { known: ["set", "add", "remove"] };

function readHeaderFilter(f: SpecFields): HTTPHeaderFilter {
  const seen = new Set<string>();
  const pairs = (field: "set" | "add"): { name: string; value: string }[] => {
    const items = f.list(field);
    if (items.length > 16) f.error(field, `expected at most 16, got ${items.length}`);
    return items.map((item) => {
      const h = SpecFields.open(f.ctx, item.value, item.path, { known: ["name", "value"] });
      const name = h.requiredString("name");
      checkHeaderName(h, name, seen);
      const value = h.require("value") ? (h.string("value") ?? "") : "";
      return { name, value };
    });
  };
  const set = pairs("set");
  const add = pairs("add");
  const remove = f.stringList("remove");
  if (remove.length > 16) f.error("remove", `expected at most 16, got ${remove.length}`);
  remove.forEach((name, i) => {
    if (!HEADER_NAME.test(name))
      f.ctx.error(`${f.at("remove")}[${i}]`, `expected an HTTP header name, got ${describe(name)}`);
  });
  return { set, add, remove };
}

function checkHeaderName(h: SpecFields, name: string, seen: Set<string>): void {
  if (name === "") return;
  if (!HEADER_NAME.test(name)) h.error("name", `expected an HTTP header name, got ${describe(name)}`);
  else if (seen.has(name.toLowerCase())) h.error("name", `header "${name}" is modified twice by this filter`);
  seen.add(name.toLowerCase());
}

function readPathModifier(r: SpecFields): HTTPPathModifier {
  const p = r.message("path", { known: ["type", "replaceFullPath", "replacePrefixMatch"] });
  const type = p.require("type")
    ? (p.enumValue("type", ["ReplaceFullPath", "ReplacePrefixMatch"] as const) ?? "ReplaceFullPath")
    : "ReplaceFullPath";
  const field = type === "ReplaceFullPath" ? "replaceFullPath" : "replacePrefixMatch";
  const other = type === "ReplaceFullPath" ? "replacePrefixMatch" : "replaceFullPath";
  if (p.has(other)) p.error(other, `must not be set when type is ${type}`);
  const value = p.require(field) ? (p.string(field) ?? "") : "";
  if (value.length > 1024) p.error(field, "expected at most 1024 characters");
  if (value !== "" && !value.startsWith("/"))
    p.error(field, `expected a path starting with "/", got ${describe(value)}`);
  return type === "ReplaceFullPath" ? { type, replaceFullPath: value } : { type, replacePrefixMatch: value };
}

function readBackendRef(ctx: ResourceContext, item: Item): HTTPBackendRef {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["group", "kind", "name", "namespace", "port", "weight"],
    refused: { filters: `filters on a backendRef ${NOT_CARRIED} (put them on the rule)` },
  });
  const ref = readBackendObjectRef(f);
  return { ...ref, weight: f.integer("weight", 0, 1_000_000) ?? 1 };
}

function readBackendObjectRef(f: SpecFields): BackendObjectReference {
  const ref: BackendObjectReference = {
    group: readGroup(f, ""),
    kind: readKind(f, "Service"),
    name: readObjectName(f, "name"),
  };
  assign(ref, "namespace", readNamespace(f));
  assign(ref, "port", f.integer("port", 1, 65_535));
  if (ref.port === undefined && ref.group === "" && ref.kind === "Service" && !f.broken)
    f.error("port", "required when the backend is a Service");
  return ref;
}

// --- GRPCRoute ---------------------------------------------------------------------------------------------------

const GRPC_SERVICE = /^(?:\.?[A-Za-z_][A-Za-z_0-9]*)(?:\.[A-Za-z_][A-Za-z_0-9]*)*$/;
const GRPC_METHOD = /^[A-Za-z_][A-Za-z_0-9]*$/;

export function readGRPCRouteSpec(ctx: ResourceContext, raw: unknown, path: string): GRPCRouteSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["parentRefs", "hostnames", "rules"] });
  const parentRefs = readParentRefs(ctx, f);
  const hostnames = readRouteHostnames(f);
  const defaultGRPCRule = (): GRPCRouteRule => ({ matches: [{ headers: [] }], filters: [], backendRefs: [] });
  return { parentRefs, hostnames, rules: readRouteRules(ctx, f, defaultGRPCRule, readGRPCRule) };
}

function readGRPCRule(ctx: ResourceContext, item: Item): GRPCRouteRule {
  const f = SpecFields.open(ctx, item.value, item.path, {
    known: ["name", "matches", "filters", "backendRefs"],
    refused: { sessionPersistence: `sessionPersistence ${NOT_CARRIED}` },
  });
  const matchItems = f.list("matches");
  if (matchItems.length > 64) f.error("matches", `expected at most 64, got ${matchItems.length}`);
  const matches: GRPCRouteMatch[] =
    matchItems.length === 0 ? [{ headers: [] }] : matchItems.map((m) => readGRPCMatch(ctx, m));
  const filters: GRPCRouteFilter[] = [];
  f.list("filters").forEach((fi) => {
    const filter = readFilter(ctx, fi);
    if (filter === undefined) return;
    if (filter.type === "RequestRedirect" || filter.type === "URLRewrite")
      ctx.error(
        `${fi.path}.type`,
        `expected RequestHeaderModifier, ResponseHeaderModifier or RequestMirror in a GRPCRoute, got ${filter.type}`,
      );
    else filters.push(filter);
  });
  if (filters.length > 16) f.error("filters", `expected at most 16, got ${filters.length}`);
  for (const type of ["RequestHeaderModifier", "ResponseHeaderModifier"])
    if (filters.filter((x) => x.type === type).length > 1) f.error("filters", `expected at most one ${type} filter`);
  const backendItems = f.list("backendRefs");
  if (backendItems.length > 16) f.error("backendRefs", `expected at most 16, got ${backendItems.length}`);
  const rule: GRPCRouteRule = { matches, filters, backendRefs: backendItems.map((b) => readBackendRef(ctx, b)) };
  const name = f.string("name");
  if (name !== undefined && !SECTION_NAME.test(name))
    f.error("name", `expected a section name (lower case DNS-1123 subdomain), got ${describe(name)}`);
  assign(rule, "name", name);
  return rule;
}

function readGRPCMatch(ctx: ResourceContext, item: Item): GRPCRouteMatch {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["method", "headers"] });
  const match: GRPCRouteMatch = { headers: readValueMatches(f, "headers", true) };
  if (f.has("method")) {
    const m = f.message("method", { known: ["type", "service", "method"] });
    const method: GRPCMethodMatch = {
      type: m.enumValue("type", ["Exact", "RegularExpression"] as const) ?? "Exact",
    };
    assign(method, "service", m.string("service"));
    assign(method, "method", m.string("method"));
    if (method.service === undefined && method.method === undefined && !m.broken)
      f.error("method", "expected one or both of service and method");
    for (const [field, pattern] of [
      ["service", GRPC_SERVICE],
      ["method", GRPC_METHOD],
    ] as const) {
      const value = method[field];
      if (value === undefined) continue;
      if (value.length > 1024) m.error(field, "expected at most 1024 characters");
      if (method.type === "RegularExpression") checkRegex(ctx, m.at(field), value);
      else if (!pattern.test(value)) m.error(field, `expected a gRPC ${field} name, got ${describe(value)}`);
    }
    match.method = method;
  }
  return match;
}

// --- TLSRoute and TCPRoute (v1alpha2) -----------------------------------------------------------------------------

export function readTLSRouteSpec(ctx: ResourceContext, raw: unknown, path: string): TLSRouteSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["parentRefs", "hostnames", "rules"] });
  const parentRefs = readParentRefs(ctx, f);
  const hostnames = readRouteHostnames(f);
  return { parentRefs, hostnames, rules: readL4Rules(ctx, f) };
}

export function readTCPRouteSpec(ctx: ResourceContext, raw: unknown, path: string): TCPRouteSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["parentRefs", "rules"] });
  const parentRefs = readParentRefs(ctx, f);
  return { parentRefs, rules: readL4Rules(ctx, f) };
}

/** The API's rules of a TLSRoute or TCPRoute: 1 to 16, each with 1 to 16 backendRefs; rule names unique. */
function readL4Rules(ctx: ResourceContext, f: SpecFields): L4RouteRule[] {
  const items = f.list("rules");
  if (!f.broken && items.length === 0) f.error("rules", "required: at least one rule");
  if (items.length > 16) f.error("rules", `expected at most 16, got ${items.length}`);
  const names = new Set<string>();
  return items.map((item) => {
    const r = SpecFields.open(ctx, item.value, item.path, {
      known: ["name", "backendRefs"],
      refused: { matches: "matches are not part of a TLSRoute or TCPRoute rule (v1alpha2): every connection matches" },
    });
    const backendItems = r.list("backendRefs");
    if (!r.broken && backendItems.length === 0) r.error("backendRefs", "required: at least one backendRef");
    if (backendItems.length > 16) r.error("backendRefs", `expected at most 16, got ${backendItems.length}`);
    const rule: L4RouteRule = { backendRefs: backendItems.map((b) => readBackendRef(ctx, b)) };
    const name = r.string("name");
    if (name !== undefined && !SECTION_NAME.test(name))
      r.error("name", `expected a section name (lower case DNS-1123 subdomain), got ${describe(name)}`);
    else if (name !== undefined && names.has(name)) r.error("name", `rule name "${name}" is used by another rule`);
    if (name !== undefined) names.add(name);
    assign(rule, "name", name);
    return rule;
  });
}

// --- ReferenceGrant (v1beta1) --------------------------------------------------------------------------------------

export function readReferenceGrantSpec(ctx: ResourceContext, raw: unknown, path: string): ReferenceGrantSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["from", "to"] });
  const fromItems = f.list("from");
  const toItems = f.list("to");
  for (const [field, items] of [
    ["from", fromItems],
    ["to", toItems],
  ] as const) {
    if (!f.broken && items.length === 0) f.error(field, "required: at least one entry");
    if (items.length > 16) f.error(field, `expected at most 16, got ${items.length}`);
  }
  const from = fromItems.map((item) => {
    const g = SpecFields.open(ctx, item.value, item.path, { known: ["group", "kind", "namespace"] });
    const group = readGroup(g, "");
    if (!g.has("group")) g.require("group");
    const kind = g.has("kind") ? readKind(g, "") : (g.require("kind"), "");
    const namespace = g.require("namespace") ? (readNamespace(g) ?? "") : "";
    return { group, kind, namespace };
  });
  const to = toItems.map((item) => {
    const g = SpecFields.open(ctx, item.value, item.path, { known: ["group", "kind", "name"] });
    const group = readGroup(g, "");
    if (!g.has("group")) g.require("group");
    const kind = g.has("kind") ? readKind(g, "") : (g.require("kind"), "");
    const out: ReferenceGrantSpec["to"][number] = { group, kind };
    const name = g.string("name");
    if (name !== undefined && (name === "" || name.length > 253))
      g.error("name", `expected an object name of 1 to 253 characters, got ${describe(name)}`);
    assign(out, "name", name);
    return out;
  });
  return { from, to };
}

// --- shared ------------------------------------------------------------------------------------------------------

function readGroup(f: SpecFields, fallback: string): string {
  const group = f.string("group") ?? fallback;
  if (group.length > 253 || !GROUP.test(group))
    f.error("group", `expected an API group (DNS subdomain or ""), got ${describe(group)}`);
  return group;
}

function readKind(f: SpecFields, fallback: string): string {
  const kind = f.string("kind") ?? fallback;
  if (kind.length > 63 || !KIND.test(kind)) f.error("kind", `expected a kind (like Service), got ${describe(kind)}`);
  return kind;
}

function readObjectName(f: SpecFields, field: string): string {
  const name = f.requiredString(field);
  if (name.length > 253) f.error(field, "expected at most 253 characters");
  return name;
}

function readNamespace(f: SpecFields): string | undefined {
  const ns = f.string("namespace");
  if (ns !== undefined && (ns.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(ns)))
    f.error("namespace", `expected a DNS-1123 label, got ${describe(ns)}`);
  return ns;
}

function checkHostname(f: SpecFields, field: string, hostname: string, wildcard: boolean): void {
  const ok = hostname.length <= 253 && (wildcard ? HOSTNAME : PRECISE_HOSTNAME).test(hostname);
  if (ok) return;
  const what = wildcard ? "a hostname (lower case; a leading *. allowed; no IP address)" : "a precise hostname";
  f.ctx.error(f.at(field), `expected ${what}, got ${describe(hostname)}`);
}

function readDuration(f: SpecFields, field: string): number | undefined {
  if (!f.has(field)) return undefined;
  const raw = f.raw(field);
  if (typeof raw !== "string" || !DURATION.test(raw)) {
    f.error(field, `expected a Gateway API duration like "10s", "500ms" or "1m30s", got ${describe(raw)}`);
    return undefined;
  }
  const parsed = parseIstioDuration(raw);
  if (!parsed.ok) {
    f.error(field, parsed.error);
    return undefined;
  }
  return parsed.value;
}
