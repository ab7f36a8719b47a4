// AuthorizationPolicy (security.istio.io): who may call what on a workload (ALLOW, DENY, AUDIT, CUSTOM rules on
// sources, operations and conditions). Checks follow Istio's ValidateAuthorizationPolicy and pkg/config/security.

import { isIP } from "node:net";
import type { AuthorizationPolicySpec, AuthorizationRule } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { checkOneTarget, readLabelSelector, readTargetRefs } from "./common.ts";
import { describe } from "../xds/parse/context.ts";

const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
] as const;
const OPERATION_FIELDS = [
  "hosts",
  "notHosts",
  "ports",
  "notPorts",
  "methods",
  "notMethods",
  "paths",
  "notPaths",
] as const;

/** Source fields a CUSTOM policy cannot use (Istio: "… is currently not supported with CUSTOM action"). */
const NOT_WITH_CUSTOM = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "trustDomains",
  "notTrustDomains",
] as const;

/** Source fields that also apply to TCP traffic (request principals and trust domains alone do not, for Istio). */
const TCP_SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "namespaces",
  "notNamespaces",
  "serviceAccounts",
  "notServiceAccounts",
  "ipBlocks",
  "notIpBlocks",
  "remoteIpBlocks",
  "notRemoteIpBlocks",
] as const;

type Action = AuthorizationPolicySpec["action"];

export function readAuthorizationPolicySpec(ctx: ResourceContext, raw: unknown, path: string): AuthorizationPolicySpec {
  const f = SpecFields.open(ctx, raw, path, {
    known: ["selector", "targetRef", "targetRefs", "rules", "action", "provider"],
  });
  const action = f.enumValue("action", ["ALLOW", "DENY", "AUDIT", "CUSTOM"] as const) ?? "ALLOW";
  const spec: AuthorizationPolicySpec = {
    targetRefs: readTargetRefs(f),
    rules: f.list("rules").map((item) => readRule(ctx, item, action)),
    action,
  };
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  checkOneTarget(f, spec.selector, spec.targetRefs);
  if (f.has("provider")) {
    const p = f.message("provider", { known: ["name"] });
    spec.provider = { name: p.requiredString("name") };
  }
  // Istio reads `rules: []` as no rules, like no `rules` at all.
  if ((action === "DENY" || action === "CUSTOM") && spec.rules.length === 0 && !f.broken) {
    f.error(
      "rules",
      `required when action is ${action}: without rules it never applies (add an empty rule {} to match every request)`,
    );
  }
  if (spec.action === "CUSTOM" && spec.provider === undefined) f.error("provider", "required when action is CUSTOM");
  if (spec.action !== "CUSTOM" && spec.provider !== undefined)
    f.error("provider", "only allowed when action is CUSTOM");
  return spec;
}

function readRule(ctx: ResourceContext, item: Item, action: Action): AuthorizationRule {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["from", "to", "when"] });
  for (const name of ["from", "to"]) {
    if (Array.isArray(f.raw(name)) && (f.raw(name) as unknown[]).length === 0)
      f.error(name, "expected at least one entry (leave it out to match any)");
  }
  let tcpInFrom = false;
  let tcpInTo = false;
  const rule: AuthorizationRule = {
    from: f.list("from").map((from) => {
      const s = SpecFields.open(ctx, from.value, from.path, { known: ["source"] });
      s.require("source");
      const fields = s.message("source", { known: SOURCE_FIELDS });
      const source = listsOf(fields, SOURCE_FIELDS);
      checkSource(fields, source, action);
      if (TCP_SOURCE_FIELDS.some((name) => fields.has(name))) tcpInFrom = true;
      return { source };
    }),
    to: f.list("to").map((to) => {
      const o = SpecFields.open(ctx, to.value, to.path, { known: ["operation"] });
      o.require("operation");
      const fields = o.message("operation", { known: OPERATION_FIELDS });
      const operation = listsOf(fields, OPERATION_FIELDS);
      for (const name of ["ports", "notPorts"] as const) checkPorts(fields, name, operation[name]);
      for (const name of ["paths", "notPaths"] as const) checkPathTemplates(fields, name, operation[name]);
      if (fields.has("ports") || fields.has("notPorts")) tcpInTo = true;
      return { operation };
    }),
    when: f.list("when").map((when) => {
      const c = SpecFields.open(ctx, when.value, when.path, { known: ["key", "values", "notValues"] });
      const condition = {
        key: c.requiredString("key"),
        values: c.stringList("values"),
        notValues: c.stringList("notValues"),
      };
      if (!c.broken && condition.values.length === 0 && condition.notValues.length === 0) {
        c.ctx.error(c.path, "expected values or notValues");
      } else if (condition.key !== "") checkCondition(c, condition, action);
      return condition;
    }),
  };
  const httpOnly = (rule.from.length > 0 && rule.to.length === 0 && !tcpInFrom) || (rule.to.length > 0 && !tcpInTo);
  if (action === "DENY" && httpOnly) {
    f.ctx.warn(
      item.path,
      "a DENY rule with only HTTP attributes denies all traffic to TCP ports in its scope; name the ports explicitly",
    );
  }
  return rule;
}

function checkSource(f: SpecFields, source: Record<(typeof SOURCE_FIELDS)[number], string[]>, action: Action): void {
  const identities = source.principals.length + source.notPrincipals.length;
  const namespaces = source.namespaces.length + source.notNamespaces.length;
  if (identities + namespaces > 0 && source.serviceAccounts.length + source.notServiceAccounts.length > 0) {
    f.ctx.error(f.path, "serviceAccounts and notServiceAccounts cannot be set with principals or namespaces");
  }
  for (const name of ["serviceAccounts", "notServiceAccounts"] as const) checkServiceAccounts(f, name, source[name]);
  for (const name of ["trustDomains", "notTrustDomains"] as const) checkTrustDomains(f, name, source[name]);
  for (const name of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const)
    checkIps(f, name, source[name]);
  if (action === "CUSTOM") {
    for (const name of NOT_WITH_CUSTOM) {
      if (source[name].length > 0) f.error(name, "not supported with action CUSTOM");
    }
  }
}

/** `sa` or `namespace/sa`, no wildcard, at most 16 (Istio's limits). */
function checkServiceAccounts(f: SpecFields, name: string, values: readonly string[]): void {
  if (values.length > 16) f.error(name, `expected at most 16 service accounts, got ${values.length}`);
  values.forEach((value, i) => {
    const at = `${f.at(name)}[${i}]`;
    if (value === "") return; // reported as empty
    const parts = value.split("/");
    if (value.includes("*")) f.ctx.error(at, `wildcards are not allowed in service accounts, got ${describe(value)}`);
    else if (parts.length > 2 || parts.some((p) => p === ""))
      f.ctx.error(at, `expected "serviceAccount" or "namespace/serviceAccount", got ${describe(value)}`);
    else if (value.length > 320) f.ctx.error(at, "expected at most 320 characters");
  });
}

/** A trust domain, or one with a single `*` at its start or end; never a `/`. */
function checkTrustDomains(f: SpecFields, name: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    const at = `${f.at(name)}[${i}]`;
    if (value === "") return;
    const message = wildcardProblem(value);
    if (message !== undefined) f.ctx.error(at, message);
    else if (value.includes("/")) f.ctx.error(at, `expected a trust domain (no "/"), got ${describe(value)}`);
  });
}

function wildcardProblem(value: string): string | undefined {
  const stars = value.split("*").length - 1;
  if (stars > 1) return `expected at most one "*", got ${describe(value)}`;
  if (stars === 1 && value !== "*" && !value.startsWith("*") && !value.endsWith("*"))
    return `expected "*" only at the start or the end, got ${describe(value)}`;
  return undefined;
}

function ipProblem(value: string): string | undefined {
  const [address, bits, extra] = value.split("/");
  const family = isIP(address ?? "");
  if (family === 0 || extra !== undefined) return `expected an IP address or CIDR block, got ${describe(value)}`;
  if (bits === undefined) return undefined;
  const max = family === 4 ? 32 : 128;
  if (!/^\d+$/.test(bits) || Number(bits) > max) return `expected an IP address or CIDR block, got ${describe(value)}`;
  return undefined;
}

function checkIps(f: SpecFields, name: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    const problem = value === "" ? undefined : ipProblem(value);
    if (problem !== undefined) f.ctx.error(`${f.at(name)}[${i}]`, problem);
  });
}

function portProblem(value: string): string | undefined {
  return /^\d+$/.test(value) && Number(value) <= 65_535 ? undefined : `expected a port 0-65535, got ${describe(value)}`;
}

function checkPorts(f: SpecFields, name: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    const problem = value === "" ? undefined : portProblem(value);
    if (problem !== undefined) f.ctx.error(`${f.at(name)}[${i}]`, problem);
  });
}

const PATH_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** Istio's path templates: `{*}` one segment, `{**}` the rest (last); no other braces; plain segments otherwise. */
function checkPathTemplates(f: SpecFields, name: string, values: readonly string[]): void {
  values.forEach((value, i) => {
    const at = `${f.at(name)}[${i}]`;
    const template = value.includes("{*}") || value.includes("{**}");
    let seenAny = false;
    for (const segment of value.replace(/^\/+|\/+$/g, "").split("/")) {
      if ((segment === "{*}" || segment === "{**}") && seenAny) {
        f.ctx.error(at, `expected {**} to be the last segment, got ${describe(value)}`);
        return;
      }
      if (segment === "{**}") seenAny = true;
      if (segment === "{*}" || segment === "{**}") continue;
      if (/[{}]/.test(segment)) {
        f.ctx.error(at, `expected "{" and "}" only in the templates {*} and {**}, got ${describe(value)}`);
        return;
      }
      if (template && !PATH_LITERAL.test(segment)) {
        f.ctx.error(at, `expected path segments of URL characters around a template, got ${describe(segment)}`);
        return;
      }
    }
  });
}

/** Istio's condition keys (pkg/config/security ValidateAttribute) and what their values must look like. */
function checkCondition(
  c: SpecFields,
  condition: { key: string; values: string[]; notValues: string[] },
  action: Action,
): void {
  const key = condition.key;
  const at = c.at("key");
  const mapKey = (prefix: string): boolean => {
    const open = key.indexOf("[");
    return key.startsWith(prefix) && key.endsWith("]") && open > 0 && open < key.length - 2;
  };
  let check: ((value: string) => string | undefined) | undefined;
  if (
    key.startsWith("request.headers") ||
    key.startsWith("request.auth.claims") ||
    key.startsWith("experimental.envoy.filters.")
  ) {
    const prefix = key.startsWith("request.headers")
      ? "request.headers"
      : key.startsWith("request.auth.claims")
        ? "request.auth.claims"
        : "experimental.envoy.filters.";
    if (!mapKey(prefix)) c.ctx.error(at, `expected the form ${prefix}[name], got ${describe(key)}`);
  } else if (key === "source.ip" || key === "remote.ip" || key === "destination.ip") check = ipProblem;
  else if (key === "destination.port") check = portProblem;
  else if (key === "source.trustDomain") check = wildcardProblem;
  else if (key === "destination.namespace") c.ctx.error(at, "destination.namespace is replaced by metadata.namespace");
  else if (key.startsWith("destination.labels")) c.ctx.error(at, "destination.labels is replaced by the selector");
  else if (key === "destination.name" || key === "destination.user")
    c.ctx.error(at, `${key} was only supported in v1alpha1`);
  else if (key === "source.serviceAccount") {
    checkServiceAccounts(c, "values", condition.values);
    checkServiceAccounts(c, "notValues", condition.notValues);
  } else if (
    ![
      "source.namespace",
      "source.principal",
      "request.auth.principal",
      "request.auth.audiences",
      "request.auth.presenter",
      "connection.sni",
    ].includes(key)
  ) {
    c.ctx.error(
      at,
      `unknown attribute ${describe(key)} (Istio's condition keys: source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, source.trustDomain, request.headers[…], request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[…], destination.ip, destination.port, connection.sni, experimental.envoy.filters.*)`,
    );
  }
  for (const name of ["values", "notValues"] as const) {
    condition[name].forEach((value, i) => {
      const vat = `${c.at(name)}[${i}]`;
      if (value === "") c.ctx.error(vat, "expected a non-empty string");
      else {
        const problem = check?.(value);
        if (problem !== undefined) c.ctx.error(vat, problem);
      }
    });
  }
  if (
    action === "CUSTOM" &&
    (["source.namespace", "source.serviceAccount", "source.trustDomain", "source.principal"].includes(key) ||
      key.startsWith("request.auth."))
  ) {
    c.error("key", `${key} is not supported with action CUSTOM`);
  }
}

function listsOf<K extends string>(f: SpecFields, names: readonly K[]): Record<K, string[]> {
  const out = {} as Record<K, string[]>;
  for (const name of names) out[name] = nonEmptyList(f, name);
  if (!f.broken && names.every((name) => out[name].length === 0))
    f.ctx.error(f.path, `expected at least one of ${names.join(", ")}`);
  return out;
}

/** Istio refuses an empty string in these lists: it would match nothing, or everything, by surprise. */
function nonEmptyList(f: SpecFields, name: string): string[] {
  const values = f.stringList(name);
  values.forEach((value, i) => {
    if (value === "") f.ctx.error(`${f.at(name)}[${i}]`, "expected a non-empty string");
  });
  return values;
}
