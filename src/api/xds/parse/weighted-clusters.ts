// weighted_clusters, as routes write it (with per-cluster header edits) and as tcp_proxy writes it (name and
// weight only). Every cluster named is recorded so the bootstrap can check it exists.

import type { WeightedCluster } from "../types.ts";
import { Fields } from "./fields.ts";
import { HEADER_EDIT_FIELDS, readHeaderEdits } from "./headers.ts";

const ROUTE_SPEC = {
  handled: ["clusters", "total_weight"],
  unsupported: ["runtime_key_prefix", "header_name", "random_value_specifier"],
} as const;
const ROUTE_CLUSTER_SPEC = {
  handled: ["name", "weight", ...HEADER_EDIT_FIELDS],
  unsupported: ["cluster_header", "metadata_match", "typed_per_filter_config", "host_rewrite_literal"],
} as const;

const TCP_SPEC = { handled: ["clusters"] } as const;
const TCP_CLUSTER_SPEC = { handled: ["name", "weight"], unsupported: ["metadata_match"] } as const;

/** `fields.<name>` as a weighted_clusters message; `forRoute` selects the route flavour over tcp_proxy's. */
export function readWeightedClusters(fields: Fields, name: string, forRoute: boolean): WeightedCluster[] {
  const weighted = fields.message(name, forRoute ? ROUTE_SPEC : TCP_SPEC);
  const items = weighted.list("clusters");
  if (items.length === 0 && !weighted.broken) weighted.report("clusters", "expected at least one cluster");
  const out: WeightedCluster[] = [];
  for (const item of items) {
    const cluster = Fields.open(fields.ctx, item.value, item.path, forRoute ? ROUTE_CLUSTER_SPEC : TCP_CLUSTER_SPEC);
    const clusterName = cluster.requiredString("name");
    if (clusterName !== "") fields.ctx.referenceCluster(cluster.at("name"), clusterName);
    out.push({ name: clusterName, weight: cluster.integer("weight", 0), ...readHeaderEdits(cluster) });
  }
  const sum = out.reduce((total, c) => total + c.weight, 0);
  if (items.length > 0 && sum === 0) weighted.report("clusters", "the weights must add up to more than 0");
  if (forRoute && weighted.has("total_weight")) {
    const total = weighted.integer("total_weight", sum, 1);
    if (total !== sum) weighted.report("total_weight", `is ${total} but the weights add up to ${sum}`);
  }
  return out;
}
