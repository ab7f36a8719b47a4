// DestinationRules as Istio looks them up and merges them (pilot/pkg/model push_context.go setDestinationRules,
// destination_rule.go mergeDestinationRule, sidecar.go DestinationRule):
// - rules are taken in order: those with a workloadSelector first, then the oldest (metadata.creationTimestamp,
//   which the store stamps; files have none), then by name, then by namespace;
// - rules of one namespace for one host (as resolved) are merged when their exportTo sets are equal (a rule whose
//   exportTo is a superset of an existing one's is merged into it and also kept on its own): subsets are joined
//   (a subset name already defined stays the first rule's; the later one is reported) and the first rule's
//   top-level trafficPolicy wins (a later rule's fills in only when the first has none);
// - a rule with a workloadSelector is private to its namespace and merges only with rules that have the same
//   selector (Trellis keeps selector-less rules apart from selected ones, where Istio would fold a selector-less
//   rule with exportTo "." into a selected one);
// - a proxy looks in its own namespace (every rule there visible to it), then the service's namespace, then the
//   root namespace (rules exported to the proxy's namespace); a proxy in the root namespace looks at the root
//   namespace's private rules first. In each namespace the most specific host wins (exact, then the longest
//   wildcard). Among the rules found, one whose workloadSelector selects the proxy wins, else the selector-less one.

import type { DestinationRule } from "../../api/resources/types.ts";
import { exportedTo, hostMatches, resolveHost } from "./hosts.ts";
import { labelsMatch } from "./labels.ts";

/** One or more DestinationRules of a namespace for one host, merged. */
export interface ConsolidatedRule {
  host: string;
  /** The merged rule: the first rule's metadata and policy, every rule's subsets. */
  rule: DestinationRule;
  /** The rules merged into it, first first. */
  from: DestinationRule[];
  exportTo: ReadonlySet<string>;
  selector: Record<string, string> | undefined;
}

/** Consolidated rules by resolved host (lower case), in one namespace. */
type HostIndex = Map<string, ConsolidatedRule[]>;

export interface RuleLookup {
  namespace: string;
  labels: Record<string, string>;
}

export class DestinationRuleIndex {
  /** Every rule visible in its own namespace, merged, by namespace. */
  private readonly namespaceLocal = new Map<string, HostIndex>();
  /** Rules exported beyond their namespace, merged, by namespace. */
  private readonly exported = new Map<string, HostIndex>();
  /** The root namespace's private rules. */
  private readonly rootLocal: HostIndex = new Map();
  private readonly problemSet = new Set<string>();

  constructor(
    rules: readonly DestinationRule[],
    private readonly rootNamespace: string,
  ) {
    for (const rule of orderRules(rules)) {
      const ns = rule.metadata.namespace;
      const host = resolveHost(rule.spec.host ?? "", ns).toLowerCase();
      const selector = rule.spec.workloadSelector === undefined ? undefined : (rule.spec.workloadSelector.labels ?? {});
      // A rule with a workloadSelector is never exported.
      const exportTo = new Set(selector === undefined ? (rule.spec.exportTo ?? []) : ["."]);
      if (exportTo.size === 0 || exportTo.has("*") || exportTo.has(".") || exportTo.has(ns)) {
        this.merge(indexOf(this.namespaceLocal, ns), host, rule, exportTo, selector);
      }
      const privateOnly = exportTo.size === 1 && (exportTo.has(".") || exportTo.has(ns));
      if (!privateOnly) this.merge(indexOf(this.exported, ns), host, rule, exportTo, selector);
      else if (ns === this.rootNamespace) this.merge(this.rootLocal, host, rule, exportTo, selector);
    }
  }

  /** What merging found (duplicate subsets), once each. */
  get problems(): string[] {
    return [...this.problemSet];
  }

  /** The (merged) rule for `hostname` as a proxy sees it; `serviceNamespace` is the service's namespace. */
  lookup(hostname: string, serviceNamespace: string | undefined, proxy: RuleLookup): ConsolidatedRule | undefined {
    const host = hostname.toLowerCase();
    let found: ConsolidatedRule[] | undefined;
    if (proxy.namespace !== this.rootNamespace) {
      const local = this.namespaceLocal.get(proxy.namespace);
      if (local !== undefined) found = mostSpecific(local, host);
    } else {
      found = mostSpecific(this.rootLocal, host);
    }
    if (found === undefined && serviceNamespace !== undefined) {
      found = this.exportedFrom(serviceNamespace, host, proxy.namespace);
    }
    found ??= this.exportedFrom(this.rootNamespace, host, proxy.namespace);
    if (found === undefined) return undefined;
    let catchAll: ConsolidatedRule | undefined;
    for (const c of found) {
      if (c.selector === undefined) catchAll = c;
      else if (labelsMatch(c.selector, proxy.labels)) return c;
    }
    return catchAll;
  }

  private exportedFrom(owner: string, host: string, client: string): ConsolidatedRule[] | undefined {
    const index = this.exported.get(owner);
    if (index === undefined) return undefined;
    const found = mostSpecific(index, host)?.filter((c) => exportedTo([...c.exportTo], owner, client));
    return found === undefined || found.length === 0 ? undefined : found;
  }

  private merge(
    index: HostIndex,
    host: string,
    rule: DestinationRule,
    exportTo: ReadonlySet<string>,
    selector: Record<string, string> | undefined,
  ): void {
    const list = index.get(host);
    const own = (): ConsolidatedRule => ({ host, rule, from: [rule], exportTo, selector });
    if (list === undefined) {
      index.set(host, [own()]);
      return;
    }
    let appendSeparately = true;
    for (const existing of list) {
      if (setsEqual(exportTo, existing.exportTo)) appendSeparately = false;
      else if (existing.exportTo.size > 0 && isSuperset(exportTo, existing.exportTo)) appendSeparately = true;
      else {
        appendSeparately = true;
        continue;
      }
      if (!sameSelector(selector, existing.selector)) {
        appendSeparately = true;
        continue;
      }
      this.mergeInto(existing, rule);
    }
    if (appendSeparately) list.push(own());
  }

  private mergeInto(existing: ConsolidatedRule, rule: DestinationRule): void {
    const merged = existing.rule === existing.from[0] ? copyRule(existing.rule) : existing.rule;
    const subsets = merged.spec.subsets ?? [];
    for (const subset of rule.spec.subsets ?? []) {
      const owner = existing.from.find((r) => (r.spec.subsets ?? []).some((s) => s.name === subset.name));
      if (owner !== undefined) {
        this.problemSet.add(
          `DestinationRule ${nameOf(rule)}: subset ${subset.name} of ${existing.host} is already defined by ` +
            `DestinationRule ${nameOf(owner)}; the first definition is kept`,
        );
        continue;
      }
      subsets.push(subset);
    }
    merged.spec.subsets = subsets;
    if (merged.spec.trafficPolicy === undefined && rule.spec.trafficPolicy !== undefined) {
      merged.spec.trafficPolicy = rule.spec.trafficPolicy;
    }
    existing.rule = merged;
    existing.from.push(rule);
  }
}

/** Istio's order: rules with a workloadSelector first, then the oldest, then by name, then by namespace. */
export function orderRules(rules: readonly DestinationRule[]): DestinationRule[] {
  const created = (r: DestinationRule): number => {
    const stamp = (r.metadata as { creationTimestamp?: unknown }).creationTimestamp;
    const t = typeof stamp === "string" ? Date.parse(stamp) : NaN;
    return Number.isNaN(t) ? 0 : t;
  };
  const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
  return [...rules].sort(
    (a, b) =>
      Number(b.spec.workloadSelector !== undefined) - Number(a.spec.workloadSelector !== undefined) ||
      created(a) - created(b) ||
      cmp(a.metadata.name, b.metadata.name) ||
      cmp(a.metadata.namespace, b.metadata.namespace),
  );
}

function indexOf(map: Map<string, HostIndex>, ns: string): HostIndex {
  let index = map.get(ns);
  if (index === undefined) {
    index = new Map();
    map.set(ns, index);
  }
  return index;
}

/** The rules of the exact host, else of the longest wildcard that covers it. */
function mostSpecific(index: HostIndex, host: string): ConsolidatedRule[] | undefined {
  const exact = index.get(host);
  if (exact !== undefined) return exact;
  let best: { key: string; list: ConsolidatedRule[] } | undefined;
  for (const [key, list] of index) {
    if (!key.includes("*") || !hostMatches(key, host)) continue;
    if (best === undefined || key.length > best.key.length) best = { key, list };
  }
  return best?.list;
}

function copyRule(rule: DestinationRule): DestinationRule {
  return { ...rule, spec: { ...rule.spec, subsets: [...(rule.spec.subsets ?? [])] } };
}

function setsEqual(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

function isSuperset(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return [...b].every((x) => a.has(x));
}

function sameSelector(a: Record<string, string> | undefined, b: Record<string, string> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

function nameOf(r: DestinationRule): string {
  return `${r.metadata.namespace}/${r.metadata.name}`;
}
