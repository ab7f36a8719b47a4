// Every problem reaches the user (issue 10, "Nothing silent"): what translation left out for each proxy and what is
// stored but not enforced, gathered for a world and a set of proxies, then shown as apply's warnings, analyze's
// findings, proxy-status's counts and a resource's `status.validationMessages`.
//
// Which proxies: the connected ones (their problems are exactly those of the configuration they were sent), and for
// every namespace where none is connected a representative sidecar — no labels, no ports, in that namespace — so a
// mesh with no proxy yet still says what its resources would do. A representative sees everything exported to its
// namespace; what only a label selector reaches (a Sidecar or DestinationRule workloadSelector, sourceLabels) shows
// when a selected proxy connects.

import { generatedParents, toParent } from "./gateway-api/parents.ts";
import type { Gateway, Resource } from "../api/resources/types.ts";
import { labelsMatch } from "./translate/labels.ts";
import type { Finding, Level } from "./analyze/messages.ts";
import { translateInbound, translateOutbound, World, type ProxyIdentity } from "./translate/index.ts";
import { PROBLEM_CODES, refKey, type Problem, type ResourceRef } from "./translate/problems.ts";
import { proxyIdentityFromNode } from "./translate/proxy-identity.ts";
import { clusterIsForHost, notEnforced, selectsProxy } from "./unenforced.ts";

/** A proxy whose problems are reported: connected, or standing in for a namespace with none. */
export interface ProxyView {
  /** node.id, or "namespace/NS" for a representative. */
  id: string;
  identity: ProxyIdentity;
  representative: boolean;
}

/** A problem and the proxies it was found for (none: it is about a resource, whoever it would reach). */
export interface ReportedProblem extends Problem {
  proxies: string[];
}

export interface ProblemReport {
  /** Each distinct problem once, translation's first, then what is not enforced. */
  problems: ReportedProblem[];
  /** Per proxy id: its translation problems and the not-enforced resources that select it. */
  perProxy: Map<string, Problem[]>;
  /** The proxies the report was made for. */
  proxies: ProxyView[];
}

/** What a proxy's configuration is: its problems and the names of its clusters (what it reaches). */
export interface Translated {
  problems: readonly Problem[];
  clusters: Iterable<string>;
}

/**
 * One representative sidecar per namespace that has no connected proxy; and for each Gateway that no connected
 * gateway proxy's labels match, a representative gateway (in its namespace, with its selector as labels), so a
 * Gateway's problems (an unrouted server, a missing credential) are said before any gateway runs.
 */
export function representatives(
  namespaces: Iterable<string>,
  connected: readonly ProxyView[],
  gateways: readonly Gateway[] = [],
): ProxyView[] {
  const covered = new Set(connected.map((p) => p.identity.namespace));
  const out: ProxyView[] = [];
  for (const ns of [...new Set(namespaces)].sort()) {
    if (covered.has(ns)) continue;
    const id = `namespace/${ns}`;
    out.push({ id, identity: proxyIdentityFromNode({ id, metadata: { NAMESPACE: ns } }), representative: true });
  }
  const routers = connected.filter((p) => p.identity.router === true);
  for (const g of gateways) {
    const selector = g.spec.selector ?? {};
    if (routers.some((r) => labelsMatch(selector, r.identity.labels))) continue;
    const id = `gateway/${g.metadata.namespace}/${g.metadata.name}`;
    const metadata = { NAMESPACE: g.metadata.namespace, LABELS: selector, TRELLIS_NODE_TYPE: "router" };
    out.push({ id, identity: proxyIdentityFromNode({ id, metadata }), representative: true });
  }
  return out;
}

/** Translates for each proxy, once per outbound key (as the snapshot cache does), and returns what it found. */
export function translateViews(world: World, views: readonly ProxyView[]): Map<string, Translated> {
  const outbound = new Map<string, ReturnType<typeof translateOutbound>>();
  const out = new Map<string, Translated>();
  for (const view of views) {
    const key = world.outboundKey(view.identity);
    let shared = outbound.get(key);
    if (shared === undefined) {
      shared = translateOutbound(world, view.identity);
      outbound.set(key, shared);
    }
    const inbound = translateInbound(world, view.identity);
    const seen = new Set(shared.issues.map((p) => p.text));
    const problems = [...shared.issues, ...inbound.issues.filter((p) => !seen.has(p.text))];
    const clusters = [...shared.clusters, ...inbound.clusters].map((c) => String(c.name));
    out.set(view.id, { problems, clusters });
  }
  return out;
}

/**
 * The report for `views`: `translated` gives each one's problems and clusters (from the snapshot cache for the live
 * mesh, from translateViews for a candidate world); `resources` are checked for what is not enforced.
 */
export function reportProblems(
  resources: readonly Resource[],
  views: readonly ProxyView[],
  translated: (view: ProxyView) => Translated,
  rootNamespace: string,
): ProblemReport {
  const byText = new Map<string, ReportedProblem>();
  const perProxy = new Map<string, Problem[]>();
  const clustersOf = new Map<string, string[]>();
  // What the Gateway API's conversion made is reported as the Gateway or HTTPRoute it came from.
  const parents = generatedParents(resources);
  for (const view of views) {
    const t = translated(view);
    const found = t.problems.map((p) => toParent(p, parents));
    clustersOf.set(view.id, [...t.clusters]);
    perProxy.set(view.id, [...found]);
    for (const p of found) {
      const known = byText.get(p.text);
      if (known === undefined) byText.set(p.text, { ...p, proxies: [view.id] });
      else known.proxies.push(view.id);
    }
  }
  const ctx = {
    rootNamespace,
    reachesHost: (proxy: ProxyIdentity, host: string) =>
      (clustersOf.get(proxy.id) ?? []).some((c) => clusterIsForHost(c, host)),
  };
  for (const r of resources) {
    const problems = notEnforced(r);
    if (problems.length === 0) continue;
    const selected = views.filter((v) => selectsProxy(r, v.identity, ctx)).map((v) => v.id);
    for (const p of problems) {
      byText.set(p.text, { ...p, proxies: selected });
      for (const id of selected) perProxy.get(id)!.push(p);
    }
  }
  return { problems: [...byText.values()], perProxy, proxies: [...views] };
}

/**
 * Istio's level for each code (IST0101 is an error in Istio: traffic fails); Trellis's codes are warnings, except a
 * note about the mesh as a whole, no resource of the user's at fault (TCP is not passed through before traffic
 * capture): Info, so it is said without making every analysis of every mesh a warning.
 */
export function severityOf(p: Pick<Problem, "code" | "note">): Level {
  if (p.code === "IST0101") return "Error";
  return p.note === true ? "Info" : "Warning";
}

/** Where a problem was found, for a person: the proxies, or the stand-in of a namespace. */
export function proxiesPhrase(ids: readonly string[]): string {
  if (ids.length === 0) return "";
  const shown = ids
    .slice(0, 3)
    .map((id) =>
      id.startsWith("namespace/")
        ? `a sidecar in namespace ${id.slice("namespace/".length)}`
        : id.startsWith("gateway/")
          ? `a gateway for Gateway ${id.slice("gateway/".length)}`
          : `proxy ${id}`,
    );
  const more = ids.length > 3 ? ` and ${ids.length - 3} more` : "";
  return `${shown.join(", ")}${more}`;
}

/** "for proxy a, proxy b" (translation found it there), "selects …" (a not-enforced resource would act there). */
function seenPhrase(p: ReportedProblem): string {
  if (p.proxies.length === 0) return "";
  return `${p.code === "TRL0001" ? "selects" : "for"} ${proxiesPhrase(p.proxies)}`;
}

/** A problem as one warning line, as apply prints it (after "Warning: "). */
export function warningLine(p: ReportedProblem): string {
  const seen = seenPhrase(p);
  return `${p.text} (${p.code} ${PROBLEM_CODES[p.code]}${seen === "" ? "" : `; ${seen}`})`;
}

/** The field path and the message, and where it was seen: a finding's or a validation message's text. */
function description(p: ReportedProblem): string {
  const seen = seenPhrase(p);
  return `${p.path !== undefined ? `${p.path}: ` : ""}${p.message}${seen === "" ? "" : ` (${seen})`}`;
}

/**
 * Whether one of analyze's own findings already explains a translation problem: same code and resource, and the
 * same subset (analyze: `Referenced host+subset in destinationrule not found: "ratings+v9"`) or the same host
 * (`Referenced host not found: "ratings"`, as written, short or qualified).
 */
function explainedBy(p: Problem, f: Finding, resource: string): boolean {
  if (f.code !== p.code || f.resource !== resource) return false;
  // A gateway's translation and analyze's VirtualService gateway check both find a host no server lists.
  const gatewayHost = /^host (\S+) is not among the hosts of Gateway/.exec(p.message)?.[1];
  if (gatewayHost !== undefined) return f.message.includes(gatewayHost);
  const subset = /subset (\S+) of (\S+)/.exec(p.message);
  if (subset !== null) return f.message.includes(`+${subset[1]}"`);
  const host = /destination host (\S+) (?:matches no service|is not reachable)/.exec(p.message)?.[1];
  if (host === undefined) return false;
  const quoted = /Referenced host not found: "([^"]+)"/.exec(f.message)?.[1];
  return quoted !== undefined && (host === quoted || host.startsWith(`${quoted}.`));
}

/**
 * The report as analyze's findings. A translation problem analyze's own checks already explain is left out: one
 * finding per cause.
 */
export function problemFindings(problems: readonly ReportedProblem[], existing: readonly Finding[] = []): Finding[] {
  const out: Finding[] = [];
  for (const p of problems) {
    const resource = p.resource === undefined ? "mesh" : refKey(p.resource);
    if (existing.some((f) => explainedBy(p, f, resource))) continue;
    out.push({
      level: severityOf(p),
      code: p.code,
      name: PROBLEM_CODES[p.code],
      resource,
      message: description(p),
    });
  }
  return out;
}

/** Istio's validation message, as it appears in a resource's `status.validationMessages`. */
export interface ValidationMessage {
  type: { code: string; name: string };
  level: "ERROR" | "WARNING" | "INFO";
  description: string;
  documentationUrl?: string;
}

/** The resource's `status` as Istio writes it: its validation messages (none: no status). */
export function statusOf(
  ref: ResourceRef,
  problems: readonly ReportedProblem[],
): { validationMessages: ValidationMessage[] } | undefined {
  const key = refKey(ref);
  const messages = problems
    .filter((p) => p.resource !== undefined && refKey(p.resource) === key)
    .map((p): ValidationMessage => ({
      type: { code: p.code, name: PROBLEM_CODES[p.code] },
      level: ({ Error: "ERROR", Warning: "WARNING", Info: "INFO" } as const)[severityOf(p)],
      description: description(p),
      ...(p.code.startsWith("IST") && {
        documentationUrl: `https://istio.io/latest/docs/reference/config/analysis/${p.code.toLowerCase()}/`,
      }),
    }));
  return messages.length === 0 ? undefined : { validationMessages: messages };
}

/**
 * `analyze --offline`: the files alone, for a representative sidecar per namespace they name. With no registry,
 * a host that matches nothing is not a finding (analyze's own checks say what they can offline): only what is not
 * enforced and what translation would leave out or approximate.
 */
export function offlineFindings(resources: readonly Resource[], rootNamespace = "istio-system"): Finding[] {
  const world = World.fromResources(resources);
  const views = representatives(
    resources.map((r) => r.metadata.namespace),
    [],
    world.gateways,
  );
  const translated = translateViews(world, views);
  const report = reportProblems(resources, views, (v) => translated.get(v.id)!, rootNamespace);
  // IST0101 and IST0132 are analyze's own checks' (with the file's line), said once.
  return problemFindings(
    report.problems.filter((p) => p.code !== "IST0101" && p.code !== "IST0132" && p.resource !== undefined),
  );
}
