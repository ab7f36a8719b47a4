// Proxyless gRPC (Istio's "grpcgen"): a gRPC library's own xDS client (xds:///helloworld) asks LDS for the target
// it dials, follows the api_listener's RDS to a route configuration, then CDS and EDS, and balances and routes
// itself. It gets, per reachable HTTP service port, the same routes and clusters a sidecar would, adapted to what
// gRPC accepts: gRPC rejects a whole RouteConfiguration for one route it cannot run (redirect, direct response), a
// Cluster whose lb_policy is not ROUND_ROBIN or RING_HASH, and ignores endpoints in a locality without a weight.

import type { Json } from "./envoy.ts";
import { ADS, FAULT_NAME, FAULT_TYPE, HCM_TYPE, ROUTER_NAME, ROUTER_TYPE } from "./envoy.ts";
import type { DestinationContext } from "./destinations.ts";
import { isHttpProtocol, virtualHostName } from "./names.ts";
import { domainsOf, portRoutes, virtualServiceFor } from "./outbound-routes.ts";
import { refOf, type ResourceRef } from "./problems.ts";
import { serviceClusters } from "./service-clusters.ts";
import type { ServiceModel, ServicePortModel } from "./world.ts";

export interface ProxylessResources {
  listeners: Json[];
  routes: Json[];
  clusters: Json[];
  endpoints: Json[];
}

type Base = Omit<DestinationContext, "namespace" | "port" | "service">;

export function proxylessResources(services: readonly ServiceModel[], base: Base): ProxylessResources {
  const out: ProxylessResources = { listeners: [], routes: [], clusters: [], endpoints: [] };
  const claimed = new Set<string>();
  for (const service of services) {
    if (service.resolution !== "STATIC") {
      // gRPC's xDS client resolves EDS (and LOGICAL_DNS) clusters; Envoy's STRICT_DNS would make it refuse the CDS.
      base.problems.add(
        `proxyless: ${service.hostname} has ${service.resolution} resolution; not served to gRPC clients`,
        service.source && { resource: service.source, path: "spec.resolution" },
      );
      continue;
    }
    addServiceClusters(service, base, out);
    const httpPorts = service.ports.filter((p) => isHttpProtocol(p.protocol));
    if (httpPorts.length === 0) continue;
    const portless = portlessPort(httpPorts);
    const vs = virtualServiceFor(service, base);
    for (const port of httpPorts) {
      const routeName = virtualHostName(service.hostname, port.number);
      // The names a client dials are both the listeners' names and the virtual host's domains: gRPC matches the
      // virtual host against the target it dialled.
      const names = domainsOf(service, port, port === portless, base.proxy.namespace).filter((n) => {
        if (!claimed.has(n)) return claimed.add(n);
        base.problems.add(`proxyless listener ${n} already belongs to another service port; left out`);
        return false;
      });
      if (names.length === 0) continue;
      for (const name of names) out.listeners.push(apiListener(name, routeName));
      const routes = grpcRoutes(portRoutes(service, port, vs, base), routeName, base, vs && refOf(vs));
      out.routes.push({ name: routeName, virtual_hosts: [{ name: routeName, domains: names, routes }] });
    }
  }
  return out;
}

/** The port that `xds:///name` (no port) means: the first gRPC port, else port 80, else the first HTTP port. */
function portlessPort(ports: readonly ServicePortModel[]): ServicePortModel {
  return ports.find((p) => p.protocol === "GRPC") ?? ports.find((p) => p.number === 80) ?? ports[0]!;
}

/** A Listener with no address: an HttpConnectionManager reading its routes by RDS, as gRPC expects it. */
function apiListener(name: string, routeName: string): Json {
  return {
    name,
    api_listener: {
      api_listener: {
        "@type": HCM_TYPE,
        rds: { route_config_name: routeName, config_source: ADS },
        // gRPC implements fault injection (gRFC A33): VirtualService faults apply to proxyless clients too.
        http_filters: [
          { name: FAULT_NAME, typed_config: { "@type": FAULT_TYPE } },
          { name: ROUTER_NAME, typed_config: { "@type": ROUTER_TYPE } },
        ],
      },
    },
  };
}

/** Routes gRPC can run; one it cannot (redirect, direct response) would make it refuse the whole configuration. */
function grpcRoutes(routes: Json[], routeName: string, base: Base, resource: ResourceRef | undefined): Json[] {
  return routes.filter((r) => {
    if (r.route !== undefined) return true;
    const what = r.redirect !== undefined ? "a redirect" : "a direct response";
    const label = r.name !== undefined ? `route ${String(r.name)}` : "a route";
    base.problems.add(
      `proxyless ${routeName}: ${label} is ${what}, which gRPC clients cannot run; left out`,
      resource && { resource },
    );
    return false;
  });
}

/** The service's EDS clusters with gRPC's load balancers, and their endpoints in weighted localities. */
function addServiceClusters(service: ServiceModel, base: Base, out: ProxylessResources): void {
  for (const { port, cluster, endpoints, policy } of serviceClusters(service, base)) {
    // A gRPC channel only speaks HTTP/2: TCP ports' clusters would never be used.
    if (!isHttpProtocol(port.protocol) || endpoints === undefined) continue;
    const where = `proxyless ${service.hostname}:${port.number}`;
    const lb = policy.loadBalancer;
    // The balancer and warmup come from the service's DestinationRule: the problem is about it.
    const rule = base.world.destinationRuleFor(service.hostname, base.proxy);
    const about = rule && { resource: refOf(rule) };
    if (cluster.lb_policy === "MAGLEV") {
      base.problems.add(`${where}: gRPC has no maglev; ring hash used`, about);
      delete cluster.maglev_lb_config;
      cluster.lb_policy = "RING_HASH";
    } else if (cluster.lb_policy !== "RING_HASH") {
      // gRPC balances ROUND_ROBIN or RING_HASH only; Istio's grpcgen uses round robin for everything else.
      if (lb?.simple === "LEAST_REQUEST" || lb?.simple === "LEAST_CONN" || lb?.simple === "RANDOM") {
        base.problems.add(`${where}: gRPC has no ${lb.simple} balancer; ROUND_ROBIN used`, about);
      }
      cluster.lb_policy = "ROUND_ROBIN";
    }
    // gRPC always speaks HTTP/2 to its backends; Envoy's upstream protocol options mean nothing to it.
    delete cluster.typed_extension_protocol_options;
    // Only a warmup writes these (as slow_start_config), and gRPC has no slow start.
    if (cluster.round_robin_lb_config !== undefined || cluster.least_request_lb_config !== undefined) {
      base.problems.add(`${where}: gRPC has no slow start; loadBalancer warmup ignored`, about);
      delete cluster.round_robin_lb_config;
      delete cluster.least_request_lb_config;
    }
    out.clusters.push(cluster);
    out.endpoints.push(weightedLocalities(endpoints));
  }
}

/**
 * gRPC ignores a locality without load_balancing_weight: each gets the sum of its endpoints' weights, unless
 * localityLbSetting already weighed it (distribute).
 */
function weightedLocalities(cla: Json): Json {
  const groups = (cla.endpoints as Json[]).map((group) => {
    const lbEndpoints = group.lb_endpoints as Json[];
    const weight = lbEndpoints.reduce((sum, e) => sum + Number(e.load_balancing_weight ?? 1), 0);
    return { locality: group.locality ?? {}, ...group, load_balancing_weight: group.load_balancing_weight ?? weight };
  });
  return { ...cla, endpoints: groups };
}
