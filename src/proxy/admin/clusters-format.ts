// /clusters in Envoy's two shapes: the text lines scripts grep (`backend::10.0.0.1:8080::health_flags::healthy`)
// and the JSON of envoy.admin.v3.Clusters (`?format=json`).

import type { ClusterStatus, EndpointStatus } from "./target.ts";

function hostPort(e: EndpointStatus): string {
  return e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
}

function splitLocality(locality: string | undefined): { region: string; zone: string; subZone: string } {
  const [region = "", zone = "", subZone = ""] = (locality ?? "").split("/");
  return { region, zone, subZone };
}

/** Endpoint counters plus rq_active, sorted by name as Envoy prints them. */
function endpointStats(e: EndpointStatus): [string, number][] {
  const stats: Record<string, number> = { rq_active: e.activeRequests, ...e.counters };
  return Object.keys(stats)
    .sort()
    .map((k) => [k, stats[k]!]);
}

function healthFlags(e: EndpointStatus): string {
  return e.healthFlags !== "" ? e.healthFlags : e.healthy ? "healthy" : "/failed_active_hc";
}

/** Outlier detection's success rate as Envoy prints it; -1.0 when not computed this interval. */
function rateText(rate: number | undefined): string {
  return rate === undefined || rate < 0 ? "-1.0" : String(rate);
}

export function renderClustersText(clusters: readonly ClusterStatus[]): string {
  let out = "";
  for (const c of clusters) {
    out += `${c.name}::observability_name::${c.name}\n`;
    for (const k of Object.keys(c.counters).sort()) out += `${c.name}::${k}::${c.counters[k]}\n`;
    out += `${c.name}::added_via_api::false\n`;
    for (const e of c.endpoints) {
      const prefix = `${c.name}::${hostPort(e)}::`;
      for (const [k, v] of endpointStats(e)) out += `${prefix}${k}::${v}\n`;
      const { region, zone, subZone } = splitLocality(e.locality);
      out +=
        `${prefix}hostname::\n` +
        `${prefix}health_flags::${healthFlags(e)}\n` +
        `${prefix}weight::${e.weight}\n` +
        `${prefix}region::${region}\n` +
        `${prefix}zone::${zone}\n` +
        `${prefix}sub_zone::${subZone}\n` +
        `${prefix}canary::false\n` +
        `${prefix}priority::${e.priority}\n` +
        `${prefix}success_rate::${rateText(e.successRate)}\n` +
        `${prefix}local_origin_success_rate::${rateText(e.localOriginSuccessRate)}\n`;
    }
  }
  return out;
}

function healthStatus(e: EndpointStatus): Record<string, unknown> {
  const flags = healthFlags(e);
  const status: Record<string, unknown> = {
    eds_health_status: flags.includes("failed_eds_health") ? "UNHEALTHY" : "HEALTHY",
  };
  if (flags.includes("failed_active_hc")) status.failed_active_health_check = true;
  if (flags.includes("failed_outlier_check")) status.failed_outlier_check = true;
  if (flags.includes("pending_dynamic_removal")) status.pending_dynamic_removal = true;
  if (!e.healthy && Object.keys(status).length === 1) status.failed_active_health_check = true;
  return status;
}

/** envoy.admin.v3.Clusters as proto3 JSON (64-bit stat values are strings there). */
export function renderClustersJson(clusters: readonly ClusterStatus[]): unknown {
  return {
    cluster_statuses: clusters.map((c) => ({
      name: c.name,
      observability_name: c.name,
      added_via_api: false,
      // Not in Envoy's message: the cluster-level values the text format prints, so JSON loses nothing.
      stats: Object.keys(c.counters)
        .sort()
        .map((k) => ({ name: k, value: String(c.counters[k]) })),
      host_statuses: c.endpoints.map((e) => {
        const { region, zone, subZone } = splitLocality(e.locality);
        return {
          address: { socket_address: { address: e.address, port_value: e.port } },
          stats: endpointStats(e).map(([name, value]) =>
            name.endsWith("_active") ? { name, type: "GAUGE", value: String(value) } : { name, value: String(value) },
          ),
          health_status: healthStatus(e),
          // envoy.type.v3.Percent, present only when outlier detection computed it.
          ...(e.successRate !== undefined && e.successRate >= 0 ? { success_rate: { value: e.successRate } } : {}),
          ...(e.localOriginSuccessRate !== undefined && e.localOriginSuccessRate >= 0
            ? { local_origin_success_rate: { value: e.localOriginSuccessRate } }
            : {}),
          weight: e.weight,
          locality: { region, zone, sub_zone: subZone },
          priority: e.priority,
        };
      }),
    })),
  };
}
