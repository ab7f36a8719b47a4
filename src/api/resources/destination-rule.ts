// DestinationRule (networking.istio.io): what happens to traffic for a host after routing — subsets (named label
// sets, which become clusters `outbound|<port>|<subset>|<host>`) and traffic policies.

import type { DestinationRuleSpec, Subset } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { checkHost, isDns1123Label, readExportTo, readLabels, readWorkloadSelector } from "./common.ts";
import { readTrafficPolicy } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = { known: ["host", "trafficPolicy", "subsets", "exportTo", "workloadSelector"] };

export function readDestinationRuleSpec(ctx: ResourceContext, raw: unknown, path: string): DestinationRuleSpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const host = f.requiredString("host");
  if (host !== "") checkHost(ctx, f.at("host"), host, false);
  const spec: DestinationRuleSpec = { host, subsets: [], exportTo: readExportTo(f) };
  if (f.has("trafficPolicy"))
    spec.trafficPolicy = readTrafficPolicy(ctx, f.raw("trafficPolicy"), f.at("trafficPolicy"));
  if (f.has("workloadSelector")) {
    spec.workloadSelector = readWorkloadSelector(ctx, f.raw("workloadSelector"), f.at("workloadSelector"));
  }
  const names = new Set<string>();
  for (const item of f.list("subsets")) {
    const s = SpecFields.open(ctx, item.value, item.path, { known: ["name", "labels", "trafficPolicy"] });
    const subset: Subset = { name: s.requiredString("name"), labels: readLabels(s, "labels") };
    if (subset.name !== "" && !isDns1123Label(subset.name)) {
      s.error("name", `expected a DNS-1123 label (lower case letters, digits, "-"), got ${describe(subset.name)}`);
    }
    if (subset.name !== "" && names.has(subset.name)) s.error("name", `subset "${subset.name}" is defined twice`);
    names.add(subset.name);
    if (s.has("trafficPolicy"))
      subset.trafficPolicy = readTrafficPolicy(ctx, s.raw("trafficPolicy"), s.at("trafficPolicy"));
    spec.subsets.push(subset);
  }
  return spec;
}
