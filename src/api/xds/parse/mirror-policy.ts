// request_mirror_policies of a route: a copy of each request (or of a fraction of them) goes to a shadow cluster,
// fire and forget.

import type { RequestMirrorPolicy } from "../types.ts";
import { Fields } from "./fields.ts";
import { readRuntimeFractionalPercent } from "./percent.ts";

const MIRROR_POLICY_SPEC = {
  handled: ["cluster", "runtime_fraction", "disable_shadow_host_suffix_append"],
  ignored: ["trace_sampled"],
  unsupported: ["cluster_header"],
} as const;

export function readMirrorPolicies(fields: Fields, name: string): RequestMirrorPolicy[] {
  return fields.list(name).map((item) => {
    const policy = Fields.open(fields.ctx, item.value, item.path, MIRROR_POLICY_SPEC);
    const cluster = policy.requiredString("cluster");
    if (cluster !== "") fields.ctx.referenceCluster(policy.at("cluster"), cluster);
    return {
      cluster,
      fraction: readRuntimeFractionalPercent(policy, "runtime_fraction", 1),
      disableShadowHostSuffixAppend: policy.bool("disable_shadow_host_suffix_append", false),
    };
  });
}
