// `trellis analyze`: problems that no single resource shows, each explained — Istio's analyzers, with Istio's
// codes, message names and levels (messages.ts), for the kinds Trellis holds. One file per analyzer under
// analyzers/; this file runs them all over one AnalysisContext and returns the findings, sorted by where they are.
//
// Findings from elsewhere (loading: schema errors and warnings; translation: fields it cannot honour; kinds stored
// but not enforced yet) come in through `extraFindings` and are reported with the rest.

import type { ResourceOrigin } from "../../api/resources/load.ts";
import type { Resource, VirtualService } from "../../api/resources/types.ts";
import { isDelegate, mergeDelegates } from "../translate/delegation.ts";
import { AnalysisContext, keyOf, type KnownService, type Workload } from "./context.ts";
import type { Finding } from "./messages.ts";
import { analyzeCaCertificates } from "./analyzers/ca-certificates.ts";
import { analyzeConflictingGateways } from "./analyzers/conflicting-gateways.ts";
import { analyzeDelegates } from "./analyzers/delegates.ts";
import { analyzeDestinationHosts } from "./analyzers/destination-hosts.ts";
import { analyzeDestinationRuleHosts } from "./analyzers/destination-rule-hosts.ts";
import { analyzeGatewayCertificates } from "./analyzers/gateway-certificates.ts";
import { analyzeGateways } from "./analyzers/gateways.ts";
import { analyzeGatewaySelectors } from "./analyzers/gateway-selectors.ts";
import { analyzeIngressSubsets } from "./analyzers/ingress-subsets.ts";
import { analyzeJwtClaimRoutes } from "./analyzers/jwt-claim-route.ts";
import { analyzeMeshGatewayHosts } from "./analyzers/mesh-gateway-hosts.ts";
import { analyzeSelectorless } from "./analyzers/selectorless.ts";
import { analyzeServiceEntryAddresses } from "./analyzers/service-entry-addresses.ts";
import { analyzeSubsets } from "./analyzers/subsets.ts";
import { analyzeUnreachableRules } from "./analyzers/unreachable-rules.ts";

export type { Finding, Level } from "./messages.ts";
export { MESSAGES } from "./messages.ts";
export type { KnownService, Workload } from "./context.ts";

export interface AnalyzeInput {
  resources: readonly Resource[];
  /**
   * The services the mesh knows besides the ServiceEntries among `resources`: the registry's, and the Kubernetes
   * Services of the files. Hosts none of these name are reported (IST0101, IST0174), as istioctl does offline.
   */
  services?: readonly KnownService[];
  /** Where each resource came from, by `Kind/namespace/name`: findings then name the file and line. */
  origins?: ReadonlyMap<string, ResourceOrigin>;
  /**
   * The workloads the mesh runs (registry instances, connected proxies): what selectors are checked against. Absent
   * offline: selectors are then not checked (istioctl checks them against the cluster's pods).
   */
  workloads?: readonly Workload[];
  /** Findings from outside the analyzers (loading, translation, kinds not enforced yet), reported with the rest. */
  extraFindings?: readonly Finding[];
}

export function analyze(input: AnalyzeInput): Finding[] {
  const ctx = new AnalysisContext(input.resources, input.services ?? [], input.origins ?? new Map(), input.workloads);
  // Destinations are checked as the translation routes them: delegates merged into their roots (short names in the
  // root's namespace); a delegate no root names is checked on its own.
  const delegation = mergeDelegates(ctx.virtualServices);
  const named = new Set(
    ctx.virtualServices.flatMap((vs) =>
      vs.spec.http.flatMap((r) =>
        r.delegate ? [`${r.delegate.namespace ?? vs.metadata.namespace}/${r.delegate.name}`] : [],
      ),
    ),
  );
  const routing: VirtualService[] = [
    ...delegation.virtualServices,
    ...ctx.virtualServices.filter((vs) => isDelegate(vs) && !named.has(`${vs.metadata.namespace}/${vs.metadata.name}`)),
  ];
  const asWritten = new Set(ctx.virtualServices);

  analyzeDestinationHosts(ctx, routing, asWritten);
  analyzeSubsets(ctx, routing, asWritten);
  analyzeDelegates(ctx, delegation.problems);
  analyzeGateways(ctx);
  analyzeGatewaySelectors(ctx);
  analyzeMeshGatewayHosts(ctx);
  analyzeUnreachableRules(ctx);
  analyzeDestinationRuleHosts(ctx);
  analyzeCaCertificates(ctx);
  analyzeServiceEntryAddresses(ctx);
  analyzeConflictingGateways(ctx);
  analyzeGatewayCertificates(ctx);
  analyzeJwtClaimRoutes(ctx);
  analyzeSelectorless(ctx);
  analyzeIngressSubsets(ctx);

  return sortFindings([...placeFindings(input.extraFindings ?? [], input.origins), ...ctx.findings]);
}

/**
 * Findings made outside the analyzers (translation problems, kinds not enforced yet) get the file and line of the
 * resource they are about, when it came from a file: the line of the field their message starts with
 * ("spec.http[0].retries: …"), else the document's.
 */
export function placeFindings(
  findings: readonly Finding[],
  origins: ReadonlyMap<string, ResourceOrigin> | undefined,
): Finding[] {
  return findings.map((f) => {
    const origin = f.file === undefined ? origins?.get(f.resource) : undefined;
    if (origin === undefined) return f;
    const path = /^(spec[^\s:]*): /.exec(f.message)?.[1];
    const line = (path === undefined ? undefined : origin.lineOf?.(path)) ?? origin.line;
    return { ...f, file: origin.file, ...(line !== undefined && { line }) };
  });
}

/** By file and line (findings without a file last), then resource, code and message; exact repeats once. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  const seen = new Set<string>();
  const unique = findings.filter((f) => {
    const key = JSON.stringify([f.file, f.line, f.resource, f.code, f.message]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  return unique.sort(
    (a, b) =>
      cmp(a.file === undefined ? 1 : 0, b.file === undefined ? 1 : 0) ||
      cmp(a.file ?? "", b.file ?? "") ||
      cmp(a.line ?? 0, b.line ?? 0) ||
      cmp(a.resource, b.resource) ||
      cmp(a.code, b.code) ||
      cmp(a.message, b.message),
  );
}

export { keyOf };
