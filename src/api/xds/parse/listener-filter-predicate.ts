// A listener filter's filter_disabled: Envoy's ListenerFilterChainMatchPredicate
// (envoy/config/listener/v3/listener_components.proto). When it matches a connection, that filter is skipped for
// it. The forms: destination_port_range (type.v3.Int32Range, half-open [start, end)), or_match and and_match
// (a MatchSet of at least two rules), not_match, and any_match (true only). Istio turns the http_inspector off
// with it for the ports of a listener that are not sniffed.

import type { ListenerFilterPredicate } from "../types.ts";
import { describe, type ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";

const PREDICATE_SPEC = {
  handled: ["or_match", "and_match", "not_match", "any_match", "destination_port_range"],
} as const;
const MATCH_SET_SPEC = { handled: ["rules"] } as const;
const INT32_RANGE_SPEC = { handled: ["start", "end"] } as const;
const RULES = ["or_match", "and_match", "not_match", "any_match", "destination_port_range"] as const;

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;
/** Deeper than any real configuration; a deeper one is refused rather than risking the stack. */
const MAX_DEPTH = 32;

/** Reads one predicate at `path`; undefined when it is wrong (reported). */
export function readListenerFilterPredicate(
  ctx: ParseContext,
  raw: unknown,
  path: string,
  depth = 0,
): ListenerFilterPredicate | undefined {
  if (depth > MAX_DEPTH) {
    ctx.report(path, `predicates nested more than ${MAX_DEPTH} deep`);
    return undefined;
  }
  const fields = Fields.open(ctx, raw, path, PREDICATE_SPEC);
  if (fields.broken) return undefined;
  const rule = fields.oneOf(RULES, true);
  switch (rule) {
    case undefined:
      return undefined;
    case "any_match": {
      // validate.rules: const true.
      const value = fields.raw("any_match");
      if (value !== true) {
        fields.report("any_match", `expected true (the only value Envoy accepts), got ${describe(value)}`);
        return undefined;
      }
      return { kind: "any" };
    }
    case "not_match": {
      const inner = readListenerFilterPredicate(ctx, fields.raw("not_match"), fields.at("not_match"), depth + 1);
      return inner === undefined ? undefined : { kind: "not", rule: inner };
    }
    case "or_match":
    case "and_match": {
      const set = fields.message(rule, MATCH_SET_SPEC);
      if (set.broken) return undefined;
      const items = set.list("rules");
      if (items.length < 2) {
        set.report("rules", `expected at least 2 rules, got ${items.length}`);
        return undefined;
      }
      const rules: ListenerFilterPredicate[] = [];
      let ok = true;
      for (const item of items) {
        const inner = readListenerFilterPredicate(ctx, item.value, item.path, depth + 1);
        if (inner === undefined) ok = false;
        else rules.push(inner);
      }
      if (!ok) return undefined;
      return { kind: rule === "or_match" ? "or" : "and", rules };
    }
    case "destination_port_range": {
      const range = fields.message("destination_port_range", INT32_RANGE_SPEC);
      if (range.broken) return undefined;
      const start = range.integer("start", 0, INT32_MIN, INT32_MAX);
      const end = range.integer("end", 0, INT32_MIN, INT32_MAX);
      // Envoy accepts end <= start (a range that matches no port); so does Trellis.
      return { kind: "destination_port_range", start, end };
    }
  }
}

/** True when `predicate` matches a connection to `destinationPort` (its original destination, once restored). */
export function matchesListenerFilterPredicate(predicate: ListenerFilterPredicate, destinationPort: number): boolean {
  switch (predicate.kind) {
    case "any":
      return true;
    case "destination_port_range":
      return destinationPort >= predicate.start && destinationPort < predicate.end;
    case "not":
      return !matchesListenerFilterPredicate(predicate.rule, destinationPort);
    case "or":
      return predicate.rules.some((r) => matchesListenerFilterPredicate(r, destinationPort));
    case "and":
      return predicate.rules.every((r) => matchesListenerFilterPredicate(r, destinationPort));
  }
}
