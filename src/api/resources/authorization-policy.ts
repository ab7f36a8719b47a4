// AuthorizationPolicy (security.istio.io): who may call what on a workload (ALLOW, DENY, AUDIT, CUSTOM rules on
// sources, operations and conditions).

import type { AuthorizationPolicySpec, AuthorizationRule } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { readLabelSelector, readTargetRefs } from "./common.ts";

const SOURCE_FIELDS = [
  "principals",
  "notPrincipals",
  "requestPrincipals",
  "notRequestPrincipals",
  "namespaces",
  "notNamespaces",
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

export function readAuthorizationPolicySpec(ctx: ResourceContext, raw: unknown, path: string): AuthorizationPolicySpec {
  const f = SpecFields.open(ctx, raw, path, {
    known: ["selector", "targetRef", "targetRefs", "rules", "action", "provider"],
  });
  const spec: AuthorizationPolicySpec = {
    targetRefs: readTargetRefs(f),
    rules: f.list("rules").map((item) => readRule(ctx, item)),
    action: f.enumValue("action", ["ALLOW", "DENY", "AUDIT", "CUSTOM"] as const) ?? "ALLOW",
  };
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  if (spec.selector !== undefined && spec.targetRefs.length > 0)
    f.ctx.error(path, "only one of selector, targetRefs may be set");
  if (f.has("provider")) {
    const p = f.message("provider", { known: ["name"] });
    spec.provider = { name: p.requiredString("name") };
  }
  if (spec.action === "CUSTOM" && spec.provider === undefined) f.error("provider", "required when action is CUSTOM");
  if (spec.action !== "CUSTOM" && spec.provider !== undefined)
    f.error("provider", "only allowed when action is CUSTOM");
  return spec;
}

function readRule(ctx: ResourceContext, item: Item): AuthorizationRule {
  const f = SpecFields.open(ctx, item.value, item.path, { known: ["from", "to", "when"] });
  return {
    from: f.list("from").map((from) => {
      const s = SpecFields.open(ctx, from.value, from.path, { known: ["source"] });
      s.require("source");
      const source = s.message("source", { known: SOURCE_FIELDS });
      return { source: listsOf(source, SOURCE_FIELDS) };
    }),
    to: f.list("to").map((to) => {
      const o = SpecFields.open(ctx, to.value, to.path, { known: ["operation"] });
      o.require("operation");
      const operation = o.message("operation", { known: OPERATION_FIELDS });
      return { operation: listsOf(operation, OPERATION_FIELDS) };
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
      }
      return condition;
    }),
  };
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
