// Istio's sidecar.DefaultSelectorAnalyzer and telemetry.DefaultSelectorAnalyzer: in one namespace, at most one
// Sidecar (IST0111) and at most one Telemetry (IST0160) may apply to every workload (no selector, no targetRefs);
// with two, which one a workload gets is undefined. Each of them is flagged, naming them all.

import type { Resource, Sidecar, Telemetry } from "../../../api/resources/types.ts";
import type { AnalysisContext } from "../context.ts";
import { MESSAGES, type MessageType } from "../messages.ts";

export function analyzeSelectorless(ctx: AnalysisContext): void {
  const sidecars = ctx.resources.filter(
    (r): r is Sidecar => r.kind === "Sidecar" && r.spec.workloadSelector === undefined,
  );
  const telemetries = ctx.resources.filter(
    (r): r is Telemetry => r.kind === "Telemetry" && r.spec.selector === undefined && r.spec.targetRefs.length === 0,
  );
  report(ctx, sidecars, MESSAGES.MultipleSidecarsWithoutWorkloadSelectors, "Sidecars");
  report(ctx, telemetries, MESSAGES.MultipleTelemetriesWithoutWorkloadSelectors, "Telemetries");
}

function report(ctx: AnalysisContext, all: readonly Resource[], type: MessageType, plural: string): void {
  const byNamespace = new Map<string, Resource[]>();
  for (const r of all) byNamespace.set(r.metadata.namespace, [...(byNamespace.get(r.metadata.namespace) ?? []), r]);
  for (const [namespace, list] of byNamespace) {
    if (list.length < 2) continue;
    const names = list.map((r) => r.metadata.name).sort();
    for (const r of list)
      ctx.report(
        type,
        r,
        `The ${plural} [${names.join(" ")}] in namespace ${JSON.stringify(namespace)} have no workload selector, which can lead to undefined behavior.`,
        "metadata.name",
      );
  }
}
