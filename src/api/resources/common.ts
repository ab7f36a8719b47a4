// Messages several kinds share: string matches, percentages, destinations, selectors, header edits, ports, hosts.
// Checks follow istioctl's validation (pilot/pkg/config/validation) where it is stricter than the schema.

import type {
  Destination,
  HeaderOperations,
  Headers,
  LabelSelector,
  Percent,
  PolicyTargetReference,
  StringMatch,
  WorkloadSelector,
} from "./types.ts";
import { PROTOCOLS } from "./types.ts";
import type { Protocol } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { keyPath } from "./context.ts";
import { describe } from "../xds/parse/context.ts";

export const MAX_PORT = 65_535;

/** `{exact|prefix|regex}`; `allowEmpty` where `{}` means "present" (header and query parameter matches). */
export function readStringMatch(ctx: ResourceContext, raw: unknown, path: string, allowEmpty = false): StringMatch {
  const f = SpecFields.open(ctx, raw, path, { known: ["exact", "prefix", "regex"] });
  const which = f.oneOf(["exact", "prefix", "regex"], !allowEmpty);
  if (which === undefined) return {};
  const value = f.string(which) ?? "";
  // Istio: an empty prefix or regex matches everything by accident.
  if (value === "" && which !== "exact" && f.has(which)) f.error(which, "must not be empty");
  if (which === "regex") checkRegex(ctx, f.at("regex"), value);
  return { [which]: value };
}

/** Istio's regexes are RE2; JavaScript's syntax is close enough to catch the mistakes people make. */
export function checkRegex(ctx: ResourceContext, path: string, pattern: string): void {
  try {
    new RegExp(pattern);
  } catch (error) {
    ctx.error(path, `expected a valid regular expression, got ${describe(pattern)}: ${(error as Error).message}`);
  }
}

export function readPercent(ctx: ResourceContext, raw: unknown, path: string): Percent {
  const f = SpecFields.open(ctx, raw, path, { known: ["value"] });
  return { value: f.number("value", 0, 100) ?? 0 };
}

export function readDestination(ctx: ResourceContext, raw: unknown, path: string): Destination {
  const f = SpecFields.open(ctx, raw, path, { known: ["host", "subset", "port"] });
  const host = f.requiredString("host");
  if (host !== "") checkHost(ctx, f.at("host"), host, false);
  const subset = f.string("subset");
  const out: Destination = { host };
  if (subset !== undefined) out.subset = subset;
  if (f.has("port")) out.port = { number: readPortNumber(f.message("port", { known: ["number"] }), "number") ?? 0 };
  return out;
}

/** A required port number 1–65535 in field `name` of `f`. */
export function readPortNumber(f: SpecFields, name: string): number | undefined {
  if (!f.require(name)) return undefined;
  return f.integer(name, 1, MAX_PORT);
}

/** A hostname, a short name, or a wildcard `*` / `*.example.com` (only as the leftmost label). */
export function checkHost(ctx: ResourceContext, path: string, host: string, allowNamespacePrefix: boolean): void {
  let name = host;
  if (allowNamespacePrefix && host.includes("/")) {
    const [namespace, rest] = host.split("/", 2);
    if (namespace !== "*" && namespace !== "." && namespace !== "~" && !DNS_LABEL.test(namespace)) {
      ctx.error(path, `expected "namespace/host" with a namespace that is *, . or a DNS label, got ${describe(host)}`);
      return;
    }
    name = rest;
  }
  if (name === "*") return;
  const body = name.startsWith("*.") ? name.slice(2) : name;
  if (!HOSTNAME.test(body) || body.length > 253) {
    ctx.error(
      path,
      `expected a hostname (a wildcard only as the leftmost label, like *.example.com), got ${describe(host)}`,
    );
  }
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const HOSTNAME =
  /^[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([-A-Za-z0-9_]{0,61}[A-Za-z0-9_])?)*\.?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export function isDns1123Subdomain(name: string): boolean {
  return name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

export function isDns1123Label(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** A list of hosts, each checked; `required` → at least one. */
export function readHosts(f: SpecFields, name: string, required: boolean, allowNamespacePrefix = false): string[] {
  if (required && !f.has(name) && !f.broken) f.error(name, "required: at least one host");
  const hosts = f.stringList(name);
  if (required && f.has(name) && hosts.length === 0 && Array.isArray(f.raw(name))) {
    f.error(name, "expected at least one host");
  }
  hosts.forEach((host, i) => {
    const at = `${f.at(name)}[${i}]`;
    if (host === "") f.ctx.error(at, "expected a host, got an empty string");
    else checkHost(f.ctx, at, host, allowNamespacePrefix);
  });
  return hosts;
}

/** Kubernetes labels: the map, with each value a valid label value (63 characters of [A-Za-z0-9-_.], or empty). */
export function readLabels(f: SpecFields, name: string): Record<string, string> {
  const labels = f.stringMap(name);
  for (const [key, value] of Object.entries(labels)) {
    if (value !== "" && !LABEL_VALUE.test(value)) {
      f.ctx.error(
        `${f.at(name)}.${key}`,
        `expected a label value (up to 63 of A-Z a-z 0-9 - _ .), got ${describe(value)}`,
      );
    }
  }
  return labels;
}

const LABEL_VALUE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

export function readWorkloadSelector(ctx: ResourceContext, raw: unknown, path: string): WorkloadSelector {
  const f = SpecFields.open(ctx, raw, path, { known: ["labels"] });
  const labels = readLabels(f, "labels");
  checkSelectorLabels(f, "labels", labels);
  return { labels };
}

export function readLabelSelector(ctx: ResourceContext, raw: unknown, path: string): LabelSelector {
  const f = SpecFields.open(ctx, raw, path, { known: ["matchLabels"] });
  const matchLabels = readLabels(f, "matchLabels");
  checkSelectorLabels(f, "matchLabels", matchLabels);
  return { matchLabels };
}

/** Istio's selector rules: no empty key, no `*` in a key or value; no labels at all selects everything (a warning). */
function checkSelectorLabels(f: SpecFields, name: string, labels: Record<string, string>): void {
  for (const [key, value] of Object.entries(labels)) {
    const at = keyPath(f.at(name), key);
    if (key === "") f.ctx.error(at, "expected a label name, got an empty key");
    if (key.includes("*") || value.includes("*"))
      f.ctx.error(at, `wildcards are not supported in a selector, got ${describe(`${key}=${value}`)}`);
  }
  if (!f.broken && Object.keys(labels).length === 0)
    f.ctx.warn(f.path, `selector without ${name}: it selects every workload in the namespace`);
}

/** The kinds a policy's targetRef may name (Istio's allowedTargetRefs), by canonical group. */
const TARGET_KINDS: readonly [group: string, kind: string][] = [
  ["core", "Service"],
  ["networking.istio.io", "ServiceEntry"],
  ["gateway.networking.k8s.io", "Gateway"],
  ["gateway.networking.k8s.io", "GatewayClass"],
];

/**
 * `targetRef` (deprecated) or `targetRefs`, never both, as Istio validates them: a name, no namespace (cross-namespace
 * references are not supported), and a kind Istio can attach a policy to.
 */
export function readTargetRefs(f: SpecFields): PolicyTargetReference[] {
  const refs: PolicyTargetReference[] = [];
  const items = f.list("targetRefs");
  if (f.has("targetRef")) {
    if (items.length > 0) f.ctx.error(f.path, "only one of targetRef, targetRefs may be set");
    items.unshift({ value: f.raw("targetRef"), path: f.at("targetRef") });
  }
  for (const item of items) {
    const r = SpecFields.open(f.ctx, item.value, item.path, { known: ["group", "kind", "name", "namespace"] });
    const ref: PolicyTargetReference = { kind: r.requiredString("kind"), name: r.requiredString("name") };
    const group = r.string("group");
    const namespace = r.string("namespace");
    if (group !== undefined) ref.group = group;
    if (namespace !== undefined) ref.namespace = namespace;
    if (namespace !== undefined && namespace !== "")
      r.error("namespace", "must not be set: cross-namespace references are not supported (Istio's rule)");
    const canonical = group === undefined || group === "" ? "core" : group;
    if (ref.kind !== "" && !TARGET_KINDS.some(([g, k]) => g === canonical && k === ref.kind)) {
      const allowed = TARGET_KINDS.map(([g, k]) => (g === "core" ? k : `${g}/${k}`)).join(", ");
      r.error("kind", `expected one of ${allowed}, got ${describe(`${group ?? ""}/${ref.kind}`)}`);
    }
    refs.push(ref);
  }
  return refs;
}

/** `selector` or a target reference, not both (Istio: "only one of targetRefs or workloadSelector can be set"). */
export function checkOneTarget(f: SpecFields, selector: unknown, targetRefs: readonly PolicyTargetReference[]): void {
  if (selector !== undefined && targetRefs.length > 0) {
    const which = f.has("targetRef") ? "targetRef" : "targetRefs";
    f.ctx.error(f.path, `only one of selector, ${which} may be set`);
  }
}

export function readHeaders(ctx: ResourceContext, raw: unknown, path: string): Headers {
  const f = SpecFields.open(ctx, raw, path, { known: ["request", "response"] });
  const out: Headers = {};
  if (f.has("request")) out.request = readHeaderOperations(f.message("request", OPERATIONS), true);
  if (f.has("response")) out.response = readHeaderOperations(f.message("response", OPERATIONS), false);
  return out;
}

const OPERATIONS = { known: ["set", "add", "remove"] };

/** Control characters other than tab end a header value (Envoy refuses them). */
// eslint-disable-next-line no-control-regex
const HEADER_VALUE = /^[^\u0000-\u0008\u000A-\u001F\u007F]*$/;

/** Envoy reads `%NAME%` (or `%NAME(args)%`) in header values as a variable and `%%` as a literal %. */
function escapesPercent(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== "%") continue;
    if (value[i + 1] === "%") {
      i++;
      continue;
    }
    const end = value.indexOf("%", i + 1);
    if (end < 0) return false;
    i = end;
  }
  return true;
}

/**
 * Istio's header operation rules: no empty name, no pseudo-header (":path"); a request may set or add its
 * authority (":authority" or "host"), but nothing may remove it and a response has none.
 */
function readHeaderOperations(f: SpecFields, request: boolean): HeaderOperations {
  const out = { set: f.stringMap("set"), add: f.stringMap("add"), remove: f.stringList("remove") };
  const check = (at: string, name: string, edits: boolean): void => {
    const authority = name.toLowerCase() === "host" || name.toLowerCase() === ":authority";
    if (name === "") f.ctx.error(at, "expected a header name, got an empty string");
    else if (authority && !(request && edits))
      f.ctx.error(at, `the authority (${name}) can only be set or added on the request`);
    else if (name.startsWith(":") && !authority)
      f.ctx.error(at, `expected a header name, not a pseudo-header, got ${describe(name)}`);
  };
  for (const op of ["set", "add"] as const) {
    for (const [name, value] of Object.entries(out[op])) {
      const at = keyPath(f.at(op), name);
      check(at, name, true);
      if (!HEADER_VALUE.test(value)) f.ctx.error(at, "expected a header value without control characters");
      else if (!escapesPercent(value))
        f.ctx.error(at, `expected "%%" for a literal % (or a %VARIABLE%, as Envoy reads it), got ${describe(value)}`);
    }
  }
  out.remove.forEach((name, i) => check(`${f.at("remove")}[${i}]`, name, false));
  return out;
}

/** Istio's protocol names, case-insensitive as Istio reads them, returned upper case. */
export function readProtocol(f: SpecFields, name: string): Protocol | undefined {
  const value = f.string(name);
  if (value === undefined) return undefined;
  const upper = value.toUpperCase();
  if ((PROTOCOLS as readonly string[]).includes(upper)) return upper as Protocol;
  f.error(name, `expected a protocol (one of ${PROTOCOLS.join(", ")}), got ${describe(value)}`);
  return undefined;
}

/** exportTo: "." (this namespace), "*" (all), "~" (none) or namespace names. */
export function readExportTo(f: SpecFields): string[] {
  const values = f.stringList("exportTo");
  values.forEach((value, i) => {
    if (value !== "." && value !== "*" && value !== "~" && !isDns1123Label(value)) {
      f.ctx.error(`${f.at("exportTo")}[${i}]`, `expected ".", "*", "~" or a namespace name, got ${describe(value)}`);
    }
  });
  if (values.includes("~") && values.length > 1)
    f.error("exportTo", `"~" (export to none) cannot be combined with others`);
  if (values.includes("*") && values.length > 1)
    f.error("exportTo", `"*" (export to all) cannot be combined with others`);
  values.forEach((value, i) => {
    if (values.indexOf(value) < i) f.ctx.error(`${f.at("exportTo")}[${i}]`, `${describe(value)} is listed twice`);
  });
  return values;
}
