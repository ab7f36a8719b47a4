// ClusterLoadAssignment: a cluster's endpoints, grouped by locality and priority.

import type {
  ClusterLoadAssignment,
  EndpointHealthCheckConfig,
  HealthStatus,
  LbEndpoint,
  Locality,
  LocalityLbEndpoints,
} from "../types.ts";
import { readAddress } from "./address.ts";
import { ParseContext } from "./context.ts";
import { Fields } from "./fields.ts";
import type { Item } from "./fields.ts";

const ASSIGNMENT_SPEC = { handled: ["cluster_name", "endpoints"], unsupported: ["named_endpoints", "policy"] } as const;
const LOCALITY_ENDPOINTS_SPEC = {
  handled: ["locality", "lb_endpoints", "load_balancing_weight", "priority"],
  ignored: ["metadata", "proximity"],
  unsupported: ["leds_cluster_locality_config"],
} as const;
const LOCALITY_SPEC = { handled: ["region", "zone", "sub_zone"] } as const;
const LB_ENDPOINT_SPEC = {
  handled: ["endpoint", "health_status", "load_balancing_weight"],
  ignored: ["metadata"],
  unsupported: ["endpoint_name"],
} as const;
const ENDPOINT_SPEC = {
  handled: ["address", "hostname", "health_check_config"],
  unsupported: ["additional_addresses"],
} as const;
const HEALTH_CHECK_CONFIG_SPEC = {
  handled: ["port_value", "hostname"],
  unsupported: ["address", "disable_active_health_check"],
} as const;

const HEALTH_STATUSES: readonly HealthStatus[] = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING", "TIMEOUT", "DEGRADED"];
/** Envoy's limit on priority levels. */
const MAX_PRIORITY = 128;

export interface EndpointRules {
  /** Only STRICT_DNS clusters may name hosts; everything else needs IP literals. */
  allowHostNames: boolean;
}

/** Reads a ClusterLoadAssignment at `path`, reporting into `ctx`. */
export function readClusterLoadAssignment(
  ctx: ParseContext,
  raw: unknown,
  path: string,
  rules: EndpointRules,
): ClusterLoadAssignment {
  const assignment = Fields.open(ctx, raw, path, ASSIGNMENT_SPEC);
  return {
    clusterName: assignment.requiredString("cluster_name"),
    endpoints: assignment.list("endpoints").map((item) => readLocalityLbEndpoints(ctx, item, rules)),
  };
}

/** Parses one ClusterLoadAssignment resource (as EDS sends it: IP addresses); throws ConfigError on any problem. */
export function parseClusterLoadAssignment(raw: unknown, path?: string): ClusterLoadAssignment {
  const ctx = new ParseContext();
  const assignment = readClusterLoadAssignment(ctx, raw, path ?? "", { allowHostNames: false });
  const name = assignment.clusterName;
  ctx.throwIfFailed(path ?? (name === "" ? "cluster load assignment" : `cluster load assignment ${name}`));
  return assignment;
}

function readLocalityLbEndpoints(ctx: ParseContext, item: Item, rules: EndpointRules): LocalityLbEndpoints {
  const group = Fields.open(ctx, item.value, item.path, LOCALITY_ENDPOINTS_SPEC);
  return {
    locality: group.has("locality") ? readLocality(group.message("locality", LOCALITY_SPEC)) : undefined,
    lbEndpoints: group.list("lb_endpoints").map((endpoint) => readLbEndpoint(ctx, endpoint, rules)),
    loadBalancingWeight: group.optionalInteger("load_balancing_weight", 1),
    priority: group.integer("priority", 0, 0, MAX_PRIORITY),
  };
}

function readLocality(locality: Fields): Locality {
  return {
    region: locality.string("region") ?? "",
    zone: locality.string("zone") ?? "",
    subZone: locality.string("sub_zone") ?? "",
  };
}

function readLbEndpoint(ctx: ParseContext, item: Item, rules: EndpointRules): LbEndpoint {
  const lbEndpoint = Fields.open(ctx, item.value, item.path, LB_ENDPOINT_SPEC);
  let address = { address: "", port: 0 };
  let hostname: string | undefined;
  let healthCheckConfig: EndpointHealthCheckConfig | undefined;
  if (lbEndpoint.requireField("endpoint")) {
    const endpoint = lbEndpoint.message("endpoint", ENDPOINT_SPEC);
    if (endpoint.requireField("address")) {
      address = readAddress(ctx, endpoint.raw("address"), endpoint.at("address"), {
        allowHostName: rules.allowHostNames,
        allowPortZero: false,
      });
    }
    hostname = endpoint.string("hostname");
    if (endpoint.has("health_check_config")) healthCheckConfig = readHealthCheckConfig(endpoint);
  }
  return {
    address,
    loadBalancingWeight: lbEndpoint.integer("load_balancing_weight", 1, 1),
    healthStatus: lbEndpoint.enumValue("health_status", HEALTH_STATUSES, "UNKNOWN"),
    hostname,
    ...(healthCheckConfig === undefined ? {} : { healthCheckConfig }),
  };
}

/** health_check_config: another port (1-65535) and the name health checks present for this endpoint. */
function readHealthCheckConfig(endpoint: Fields): EndpointHealthCheckConfig {
  const config = endpoint.message("health_check_config", HEALTH_CHECK_CONFIG_SPEC);
  const port = config.optionalInteger("port_value", 1, 65_535);
  const hostname = config.string("hostname");
  return {
    ...(port === undefined ? {} : { port }),
    ...(hostname === undefined || hostname === "" ? {} : { hostname }),
  };
}
