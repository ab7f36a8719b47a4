// VirtualService delegation, as Istio merges it (pilot's MergedVirtualServices: mergeHTTPRoutes and friends): a
// VirtualService without hosts is a delegate; a root's http route that names one with `delegate` is replaced by the
// delegate's http routes, each narrowed by the root route's match and inheriting what it leaves unset (rewrite,
// directResponse, timeout, retries, fault, mirrors, corsPolicy, headers). Destinations keep the root's namespace
// for short names, as in Istio, because the merged routes belong to the root.
// Where Istio only logs (delegate not found, not exported to the root's namespace, a delegate match that narrows
// no root match), the merge keeps a problem for the root, reported by every translation that routes with it.

import type { HTTPMatchRequest, HTTPRoute, StringMatch, VirtualService } from "../../api/resources/types.ts";
import { exportedTo } from "./hosts.ts";

export interface MergedVirtualServices {
  /** Every VirtualService with hosts, roots replaced by their merged copy; delegates left out. */
  virtualServices: VirtualService[];
  /** What could not be merged, per merged root (the object in `virtualServices`). */
  problems: Map<VirtualService, string[]>;
}

const nameOf = (vs: { metadata: { namespace: string; name: string } }): string =>
  `${vs.metadata.namespace}/${vs.metadata.name}`;

/** Where a merged route came from, for messages: "VirtualService ns/root http[1] (delegate ns/d http[0])". */
const origins = new WeakMap<HTTPRoute, string>();

export function delegatedRouteOrigin(route: HTTPRoute): string | undefined {
  return origins.get(route);
}

export function isDelegate(vs: VirtualService): boolean {
  return vs.spec.hosts.length === 0;
}

export function mergeDelegates(all: readonly VirtualService[]): MergedVirtualServices {
  const delegates = new Map<string, VirtualService>();
  for (const vs of all) if (isDelegate(vs)) delegates.set(nameOf(vs), vs);
  const problems = new Map<VirtualService, string[]>();
  const virtualServices: VirtualService[] = [];
  for (const vs of all) {
    if (isDelegate(vs)) continue;
    if (!vs.spec.http.some((r) => r.delegate !== undefined)) {
      virtualServices.push(vs);
      continue;
    }
    const found: string[] = [];
    const http = vs.spec.http.flatMap((route, i) => mergeRoute(vs, route, i, delegates, found));
    const merged: VirtualService = { ...vs, spec: { ...vs.spec, http } };
    virtualServices.push(merged);
    if (found.length > 0) problems.set(merged, found);
  }
  return { virtualServices, problems };
}

function mergeRoute(
  root: VirtualService,
  route: HTTPRoute,
  index: number,
  delegates: ReadonlyMap<string, VirtualService>,
  problems: string[],
): HTTPRoute[] {
  const where = `VirtualService ${nameOf(root)} http[${index}]`;
  if (route.delegate === undefined) {
    origins.set(route, where); // its index in the merged list is not its index in the root
    return [route];
  }
  const target = `${route.delegate.namespace ?? root.metadata.namespace}/${route.delegate.name}`;
  const delegate = delegates.get(target);
  if (delegate === undefined) {
    problems.push(`${where}: delegate VirtualService ${target} not found (or it has hosts); route left out`);
    return [];
  }
  if (!exportedTo(delegate.spec.exportTo, delegate.metadata.namespace, root.metadata.namespace)) {
    problems.push(
      `${where}: delegate VirtualService ${target} is not exported to namespace ${root.metadata.namespace}; route left out`,
    );
    return [];
  }
  const out: HTTPRoute[] = [];
  delegate.spec.http.forEach((leaf, j) => {
    const merged = mergeHttpRoute(route, leaf);
    const origin = `${where} (delegate ${target} http[${j}])`;
    if (merged === undefined) {
      problems.push(`${origin}: no match of it narrows a match of the root route; left out`);
      return;
    }
    origins.set(merged, origin);
    out.push(merged);
  });
  return out;
}

/** The delegate's route under the root's; undefined when a delegate match narrows none of the root's. */
export function mergeHttpRoute(root: HTTPRoute, leaf: HTTPRoute): HTTPRoute | undefined {
  const match = mergeMatches(root.match, leaf.match);
  if (match === undefined) return undefined;
  const out: HTTPRoute = { ...leaf, match };
  delete out.delegate;
  const name = joinNames(root.name, leaf.name);
  if (name !== undefined) out.name = name;
  // Only a leaf without an action of its own takes the root's directResponse (newer Istio inherits it too).
  if (out.route === undefined && out.redirect === undefined && out.directResponse === undefined) {
    if (root.directResponse !== undefined) out.directResponse = root.directResponse;
  }
  if (out.rewrite === undefined && root.rewrite !== undefined) out.rewrite = root.rewrite;
  if (out.timeout === undefined && root.timeout !== undefined) out.timeout = root.timeout;
  if (out.retries === undefined && root.retries !== undefined) out.retries = root.retries;
  if (out.fault === undefined && root.fault !== undefined) out.fault = root.fault;
  if (out.mirror === undefined && out.mirrors.length === 0) {
    if (root.mirror !== undefined) out.mirror = root.mirror;
    if (root.mirrorPercentage !== undefined && out.mirrorPercentage === undefined)
      out.mirrorPercentage = root.mirrorPercentage;
    out.mirrors = root.mirrors;
  }
  if (out.corsPolicy === undefined && root.corsPolicy !== undefined) out.corsPolicy = root.corsPolicy;
  if (out.headers === undefined && root.headers !== undefined) out.headers = root.headers;
  return out;
}

function joinNames(root: string | undefined, leaf: string | undefined): string | undefined {
  if (leaf === undefined || leaf === "") return root;
  return root === undefined || root === "" ? leaf : `${root}-${leaf}`;
}

/**
 * Each delegate match must narrow at least one root match (and is merged with every root match it narrows);
 * no root match means the delegate's stand; no delegate match means the root's do. Undefined on a conflict.
 */
function mergeMatches(
  root: readonly HTTPMatchRequest[],
  leaf: readonly HTTPMatchRequest[],
): HTTPMatchRequest[] | undefined {
  if (root.length === 0) return [...leaf];
  if (leaf.length === 0) return [...root];
  const out: HTTPMatchRequest[] = [];
  for (const sub of leaf) {
    const narrowed = root.filter((r) => !conflicts(r, sub));
    if (narrowed.length === 0) return undefined;
    for (const r of narrowed) out.push(mergeMatch(r, sub));
  }
  return out;
}

function mergeMatch(root: HTTPMatchRequest, leaf: HTTPMatchRequest): HTTPMatchRequest {
  const out: HTTPMatchRequest = {
    ...leaf,
    headers: { ...root.headers, ...leaf.headers },
    withoutHeaders: { ...root.withoutHeaders, ...leaf.withoutHeaders },
    queryParams: { ...root.queryParams, ...leaf.queryParams },
    sourceLabels: { ...root.sourceLabels, ...leaf.sourceLabels },
    gateways: leaf.gateways.length > 0 ? leaf.gateways : root.gateways,
  };
  const name = joinNames(root.name, leaf.name);
  if (name !== undefined) out.name = name;
  for (const field of ["uri", "scheme", "method", "authority"] as const) {
    if (out[field] === undefined && root[field] !== undefined) out[field] = root[field];
  }
  if (out.port === undefined && root.port !== undefined) out.port = root.port;
  if (out.sourceNamespace === undefined && root.sourceNamespace !== undefined)
    out.sourceNamespace = root.sourceNamespace;
  if (out.statPrefix === undefined && root.statPrefix !== undefined) out.statPrefix = root.statPrefix;
  return out;
}

/** Istio's hasConflict: the leaf must not ask for anything the root rules out. */
function conflicts(root: HTTPMatchRequest, leaf: HTTPMatchRequest): boolean {
  for (const field of ["uri", "scheme", "method", "authority"] as const) {
    if (stringMatchConflicts(root[field], leaf[field])) return true;
  }
  for (const [key, m] of Object.entries(leaf.headers)) if (stringMatchConflicts(root.headers[key], m)) return true;
  for (const [key, m] of Object.entries(leaf.withoutHeaders))
    if (stringMatchConflicts(root.withoutHeaders[key], m)) return true;
  for (const [key, m] of Object.entries(leaf.queryParams))
    if (stringMatchConflicts(root.queryParams[key], m)) return true;
  if (root.ignoreUriCase !== leaf.ignoreUriCase) return true;
  if (root.port !== undefined && leaf.port !== undefined && root.port !== leaf.port) return true;
  if (root.sourceNamespace !== undefined && leaf.sourceNamespace !== root.sourceNamespace) return true;
  for (const [key, value] of Object.entries(leaf.sourceLabels)) {
    const rootValue = root.sourceLabels[key];
    if (rootValue !== undefined && rootValue !== value) return true;
  }
  if (root.gateways.length > 0 && leaf.gateways.length > 0) {
    const allowed = new Set(root.gateways);
    if (leaf.gateways.some((g) => !allowed.has(g))) return true;
  }
  return false;
}

/**
 * A leaf string match conflicts unless it selects a subset of the root's: the same exact value, or (under a
 * prefix) a longer prefix or an exact value with that prefix. Regexes cannot be compared, so they conflict with any
 * other kind of match (either side unset never conflicts).
 */
function stringMatchConflicts(root: StringMatch | undefined, leaf: StringMatch | undefined): boolean {
  if (root === undefined || leaf === undefined) return false;
  const leafSet = leaf.exact !== undefined || leaf.prefix !== undefined || leaf.regex !== undefined;
  const rootSet = root.exact !== undefined || root.prefix !== undefined || root.regex !== undefined;
  if (root.regex !== undefined && leafSet) return true;
  if (leaf.regex !== undefined && rootSet) return true;
  if (root.exact !== undefined) return leaf.prefix !== undefined || leaf.exact !== root.exact;
  if (root.prefix !== undefined) {
    if (leaf.prefix !== undefined) return !leaf.prefix.startsWith(root.prefix);
    if (leaf.exact !== undefined) return !leaf.exact.startsWith(root.prefix);
  }
  // Istio: any other pairing (a "present" match on either side, a regex root) conflicts.
  return true;
}
