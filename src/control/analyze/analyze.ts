// `trellis analyze`: problems that no single resource shows, each explained — Istio's analyzers and their codes,
// for the cases users meet most:
//   IST0101 a VirtualService routes to a subset no DestinationRule of that host defines (traffic to it fails: 503 NC);
//   IST0101 a host a VirtualService or DestinationRule names matches no known service (only when services are known);
//   IST0101 a delegate VirtualService a root names is missing, not exported to it, or cannot narrow its match;
//   IST0109 two VirtualServices for the same host (Istio merges them unpredictably; Trellis too would have to pick);
//   IST0171 two DestinationRules for the same host (one is ignored).

import type { DestinationRule, Resource, VirtualService } from "../../api/resources/types.ts";
import { mergeDelegates } from "../translate/delegation.ts";
import { hostMatches, resolveHost as fqdn } from "../translate/hosts.ts";

export type Severity = "Error" | "Warning" | "Info";

export interface Finding {
  severity: Severity;
  code: string;
  /** Kind/namespace/name of the resource the finding is about. */
  resource: string;
  message: string;
}

export interface AnalyzeInput {
  resources: readonly Resource[];
  /** Fully qualified names of the services the mesh knows (registry and ServiceEntries); undefined = offline. */
  services?: readonly string[];
}

const keyOf = (r: Resource): string => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;

export function analyze(input: AnalyzeInput): Finding[] {
  const findings: Finding[] = [];
  const virtualServices = input.resources.filter((r): r is VirtualService => r.kind === "VirtualService");
  const destinationRules = input.resources.filter((r): r is DestinationRule => r.kind === "DestinationRule");
  const serviceEntryHosts = input.resources.flatMap((r) =>
    r.kind === "ServiceEntry" ? r.spec.hosts.map((h) => fqdn(h, r.metadata.namespace)) : [],
  );
  const known = input.services === undefined ? undefined : [...input.services, ...serviceEntryHosts];
  const rulesByHost = new Map<string, DestinationRule[]>();
  for (const dr of destinationRules) {
    const host = fqdn(dr.spec.host, dr.metadata.namespace);
    rulesByHost.set(host, [...(rulesByHost.get(host) ?? []), dr]);
    if (known !== undefined && !known.some((s) => hostMatches(host, s)))
      findings.push({
        severity: "Warning",
        code: "IST0101",
        resource: keyOf(dr),
        message: `host ${dr.spec.host} (${host}) matches no service the mesh knows: this rule applies to nothing`,
      });
  }
  for (const [host, rules] of rulesByHost)
    if (rules.length > 1)
      for (const dr of rules.slice(1))
        findings.push({
          severity: "Warning",
          code: "IST0171",
          resource: keyOf(dr),
          message: `${host} already has DestinationRule ${keyOf(rules[0]!)}: only one rule per host takes effect`,
        });
  // Delegates are checked as Istio applies them: merged into their roots (destinations in the root's namespace).
  const delegation = mergeDelegates(virtualServices);
  for (const [root, problems] of delegation.problems)
    for (const problem of problems)
      findings.push({
        severity: "Error",
        code: "IST0101",
        resource: keyOf(root),
        message: `${problem}: requests it would have matched fall through to the routes after it`,
      });
  checkVirtualServices(delegation.virtualServices, rulesByHost, known, findings);
  return findings;
}

function checkVirtualServices(
  virtualServices: VirtualService[],
  rulesByHost: Map<string, DestinationRule[]>,
  known: string[] | undefined,
  findings: Finding[],
): void {
  const owners = new Map<string, VirtualService>();
  for (const vs of virtualServices) {
    const ns = vs.metadata.namespace;
    const meshBound = vs.spec.gateways.length === 0 || vs.spec.gateways.includes("mesh");
    for (const h of vs.spec.hosts) {
      const host = fqdn(h, ns);
      const first = owners.get(host);
      if (first !== undefined && meshBound)
        findings.push({
          severity: "Error",
          code: "IST0109",
          resource: keyOf(vs),
          message: `host ${host} is also routed by ${keyOf(first)}: with two VirtualServices for one host, which rule applies depends on order; merge them into one`,
        });
      else if (meshBound) owners.set(host, vs);
    }
    const destinations = [
      ...vs.spec.http.flatMap((r) => [
        ...(r.route ?? []).map((d) => d.destination),
        ...(r.mirror ? [r.mirror] : []),
        ...r.mirrors.map((m) => m.destination),
      ]),
      ...vs.spec.tcp.flatMap((r) => r.route.map((d) => d.destination)),
      ...vs.spec.tls.flatMap((r) => r.route.map((d) => d.destination)),
    ];
    const reported = new Set<string>();
    for (const d of destinations) {
      const host = fqdn(d.host, ns);
      if (known !== undefined && !known.some((s) => hostMatches(host, s)) && !reported.has(host)) {
        reported.add(host);
        findings.push({
          severity: "Error",
          code: "IST0101",
          resource: keyOf(vs),
          message: `destination host ${d.host} (${host}) matches no service the mesh knows: requests routed there fail with 503`,
        });
      }
      if (d.subset === undefined) continue;
      const rules = rulesByHost.get(host) ?? [];
      if (rules.some((dr) => dr.spec.subsets.some((s) => s.name === d.subset))) continue;
      const key = `${host}/${d.subset}`;
      if (reported.has(key)) continue;
      reported.add(key);
      findings.push({
        severity: "Error",
        code: "IST0101",
        resource: keyOf(vs),
        message:
          rules.length === 0
            ? `subset ${d.subset} of ${host} is routed to, but no DestinationRule for ${host} defines subsets: requests routed there fail with 503 (NC)`
            : `subset ${d.subset} of ${host} is routed to, but ${keyOf(rules[0]!)} defines only ${rules[0]!.spec.subsets.map((s) => s.name).join(", ") || "no subsets"}: requests routed there fail with 503 (NC)`,
      });
    }
  }
}
