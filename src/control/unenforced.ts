// What Trellis stores and does not carry out yet ("Say no, or do it", DESIGN.md §2): the security kinds, Telemetry,
// and DestinationRule TLS settings are accepted (so a user's files load whole) but change no proxy's
// configuration until a later issue enforces them. Each is reported, never silently ignored: on apply (a warning per
// resource), in analyze (TRL0001 NotEnforced, a finding per resource and field) and in proxy-status (for the
// proxies the resource selects).

import type { DestinationRule, LabelSelector, PolicyTargetReference, Resource } from "../api/resources/types.ts";
import type { ProxyIdentity } from "./translate/index.ts";
import { hostMatches, resolveHost } from "./translate/hosts.ts";
import { labelsMatch } from "./translate/labels.ts";
import { refOf, type Problem } from "./translate/problems.ts";

/** Why each kind is not carried out, and what to expect: the issue that brings it. */
const WHY: Partial<Record<Resource["kind"], { path: string; why: string }>> = {
  AuthorizationPolicy: {
    path: "spec",
    why:
      "no proxy checks authorization yet, so traffic this policy would deny or restrict still flows" +
      "; the security issue (#12) enforces AuthorizationPolicy",
  },
  PeerAuthentication: {
    path: "spec",
    why:
      "sidecars do not speak mutual TLS to each other yet, so STRICT does not refuse plaintext" +
      "; PeerAuthentication comes with automatic mTLS (the security issue, #12)",
  },
  RequestAuthentication: {
    path: "spec",
    why:
      "no proxy validates JWTs yet, so requests with a bad token still pass" +
      "; RequestAuthentication comes with the security issue (#12)",
  },
  Telemetry: {
    path: "spec",
    why:
      "tracing, metrics and access-log settings are not applied to proxies yet" +
      "; the Telemetry resource comes with the observability issue (#13)",
  },
};

const TLS_WHY =
  "sidecars do not originate TLS yet, so traffic to this destination leaves in plaintext" +
  "; DestinationRule TLS comes with the security issue (#12)";

function notEnforcedProblem(r: Resource, path: string, why: string): Problem {
  const message = `stored, not enforced yet: ${why}`;
  const where = path === "spec" ? "" : ` ${path}`;
  return {
    code: "TRL0001",
    resource: refOf(r),
    path,
    message,
    text: `${r.kind} ${r.metadata.namespace}/${r.metadata.name}${where}: ${message}`,
  };
}

/** What of one resource is stored and not carried out: one problem per resource, or per TLS setting of a rule. */
export function notEnforced(r: Resource): Problem[] {
  if (r.kind === "DestinationRule") return tlsSettings(r).map(({ path, mode }) => tlsProblem(r, path, mode));
  const kind = WHY[r.kind];
  return kind === undefined ? [] : [notEnforcedProblem(r, kind.path, kind.why)];
}

export function notEnforcedAll(resources: readonly Resource[]): Problem[] {
  return resources.flatMap(notEnforced);
}

function tlsProblem(r: DestinationRule, path: string, mode: string): Problem {
  return notEnforcedProblem(r, path, `tls mode ${mode}: ${TLS_WHY}`);
}

/**
 * Every `tls` of a DestinationRule whose mode asks for TLS (DISABLE is plaintext, which is what the proxy does):
 * the rule's, its portLevelSettings', its subsets' and theirs.
 */
function tlsSettings(dr: DestinationRule): { path: string; mode: string }[] {
  const out: { path: string; mode: string }[] = [];
  const policy = (p: DestinationRule["spec"]["trafficPolicy"], at: string): void => {
    if (p === undefined) return;
    if (p.tls !== undefined && p.tls.mode !== "DISABLE") out.push({ path: `${at}.tls`, mode: p.tls.mode });
    (p.portLevelSettings ?? []).forEach((port, i) => {
      if (port.tls !== undefined && port.tls.mode !== "DISABLE")
        out.push({ path: `${at}.portLevelSettings[${i}].tls`, mode: port.tls.mode });
    });
  };
  policy(dr.spec.trafficPolicy, "spec.trafficPolicy");
  (dr.spec.subsets ?? []).forEach((s, i) => policy(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
  return out;
}

export interface SelectionContext {
  /** Istio's root namespace: a policy there without a selector applies to the whole mesh. */
  rootNamespace: string;
  /** Whether the proxy's configuration has a cluster for a host (the DestinationRule TLS settings' reach). */
  reachesHost: (proxy: ProxyIdentity, host: string) => boolean;
}

/**
 * Whether a not-enforced resource would act on this proxy if it were enforced, as Istio scopes it: the policy kinds
 * by namespace (the root namespace's reach every namespace), `selector.matchLabels` on the workload's labels and
 * `targetRefs` naming its Service; a DestinationRule's TLS on every proxy
 * that has a cluster for its host.
 */
export function selectsProxy(r: Resource, proxy: ProxyIdentity, ctx: SelectionContext): boolean {
  switch (r.kind) {
    case "AuthorizationPolicy":
    case "PeerAuthentication":
    case "RequestAuthentication":
    case "Telemetry": {
      const ns = r.metadata.namespace;
      if (ns !== ctx.rootNamespace && ns !== proxy.namespace) return false;
      const spec = r.spec as { selector?: LabelSelector; targetRefs?: PolicyTargetReference[] };
      const refs = spec.targetRefs ?? [];
      if (refs.length > 0)
        return refs.some((t) => t.kind === "Service" && t.name === proxy.service && (t.namespace ?? ns) === ns);
      if (spec.selector !== undefined) return labelsMatch(spec.selector.matchLabels ?? {}, proxy.labels);
      return true;
    }
    case "DestinationRule":
      return tlsSettings(r).length > 0 && ctx.reachesHost(proxy, resolveHost(r.spec.host, r.metadata.namespace));
    default:
      return false;
  }
}

/** Whether an outbound cluster name (outbound|port|subset|host) is for a host the pattern covers. */
export function clusterIsForHost(clusterName: string, pattern: string): boolean {
  const parts = clusterName.split("|");
  return parts.length === 4 && parts[0] === "outbound" && hostMatches(pattern, parts[3]!);
}
