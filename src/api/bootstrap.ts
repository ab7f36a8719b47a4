// The static bootstrap (`trellis proxy --bootstrap FILE`): an Envoy v3 Bootstrap in YAML or JSON, read into the
// typed config with every problem in the file reported at once — syntax, fields, and the checks across
// resources that Envoy makes (unique names, unique listener addresses, routes that name existing clusters).

import { LineCounter, parseDocument } from "yaml";
import { ConfigError } from "./errors.ts";
import type { ConfigIssue } from "./errors.ts";
import type { Bootstrap, Cluster, DynamicResources, Listener, NodeInfo } from "./xds/types.ts";
import { readAddress } from "./xds/parse/address.ts";
import { readCluster } from "./xds/parse/cluster.ts";
import { childPath, describe, ParseContext } from "./xds/parse/context.ts";
import { Fields } from "./xds/parse/fields.ts";
import type { Item } from "./xds/parse/fields.ts";
import { readListener } from "./xds/parse/listener.ts";
import { readSecret } from "./xds/parse/secret.ts";

/** How long SIGTERM waits for requests in flight when the file does not say (trellis.drain_timeout). */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000;

const BOOTSTRAP_SPEC = {
  handled: ["node", "admin", "static_resources", "dynamic_resources", "trellis", "layered_runtime"],
  ignored: [
    "node_context_params",
    "stats_config",
    "stats_flush_interval",
    "stats_flush_on_admin",
    "deferred_stat_options",
    "stats_server_version_override",
    "enable_dispatcher_stats",
    "watchdog",
    "watchdogs",
    "fatal_actions",
    "flags_path",
    "perf_tracing_file_path",
    "application_log_config",
  ],
  unsupported: [
    // Sinks push stats somewhere (statsd, metrics service); none is implemented, so none would receive anything.
    "stats_sinks",
    "cluster_manager",
    "hds_config",
    "tracing",
    "runtime",
    "overload_manager",
    "header_prefix",
    "use_tcp_for_dns_lookups",
    "dns_resolution_config",
    "typed_dns_resolver_config",
    "bootstrap_extensions",
    "config_sources",
    "default_config_source",
    "default_socket_interface",
    "certificate_provider_instances",
    "inline_headers",
    "default_regex_engine",
    "xds_delegate_extension",
    "xds_config_tracker_extension",
    "listener_manager",
    "grpc_async_client_manager_config",
    "memory_allocator_manager",
  ],
} as const;

const NODE_SPEC = {
  handled: ["id", "cluster", "metadata"],
  ignored: [
    "locality",
    "user_agent_name",
    "user_agent_version",
    "user_agent_build_version",
    "extensions",
    "client_features",
    "listening_addresses",
    "dynamic_parameters",
  ],
} as const;
const ADMIN_SPEC = {
  handled: ["address", "access_log", "access_log_path"],
  // profile_path: where a CPU profile would go (no profiler here); the global connection limit is not enforced.
  ignored: ["profile_path", "ignore_global_conn_limit"],
  unsupported: ["socket_options"],
} as const;
const STATIC_RESOURCES_SPEC = { handled: ["listeners", "clusters", "secrets"] } as const;
const TRELLIS_SPEC = { handled: ["drain_timeout"] } as const;
const LAYERED_RUNTIME_SPEC = { handled: ["layers"] } as const;
const RUNTIME_LAYER_SPEC = {
  handled: ["name", "static_layer", "admin_layer"],
  unsupported: ["disk_layer", "rtds_layer"],
} as const;

/**
 * Parses a bootstrap file's text (YAML or JSON). Throws ConfigError(source, issues) listing every problem,
 * each at its field path as written in the file; a syntax error carries its line and column.
 */
export function parseBootstrap(text: string, source: string): Bootstrap {
  const raw = parseBootstrapText(text, source);
  const ctx = new ParseContext();
  const bootstrap = readBootstrap(ctx, raw);
  ctx.throwIfFailed(source);
  return bootstrap;
}

/** The document of a bootstrap file (YAML or JSON); throws ConfigError with the line and column of a syntax error. */
export function parseBootstrapText(text: string, source: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length === 0) return doc.toJS({ maxAliasCount: 1000 });
  const issues: ConfigIssue[] = doc.errors.map((error) => {
    const { line, col } = lineCounter.linePos(error.pos[0]);
    return { path: "", message: `syntax error at line ${line}, column ${col}: ${error.message}` };
  });
  throw new ConfigError(source, issues);
}

/** Where each static resource was written (its field path), for checks made after parsing. */
export interface BootstrapPaths {
  listeners: string[];
  clusters: string[];
}

/**
 * Reads a parsed bootstrap document, reporting into `ctx` (paths from the document's root). `paths`, when given,
 * receives the path of each static listener and cluster.
 */
export function readBootstrap(ctx: ParseContext, raw: unknown, paths?: BootstrapPaths): Bootstrap {
  const root = Fields.open(ctx, raw ?? {}, "", BOOTSTRAP_SPEC);
  const resources = root.message("static_resources", STATIC_RESOURCES_SPEC);
  const listenerItems = resources.list("listeners");
  const clusterItems = resources.list("clusters");
  const listeners = listenerItems.map((item) => readListener(ctx, item.value, item.path, true));
  const clusters = clusterItems.map((item) => readCluster(ctx, item.value, item.path));
  if (paths !== undefined) {
    paths.listeners.push(...listenerItems.map((item) => item.path));
    paths.clusters.push(...clusterItems.map((item) => item.path));
  }
  checkUniqueNames(ctx, listeners, listenerItems, "listener");
  checkUniqueNames(ctx, clusters, clusterItems, "cluster");
  const secretItems = resources.list("secrets");
  const secrets = secretItems.map((item) => readSecret(ctx, item.value, item.path));
  checkUniqueNames(ctx, secrets, secretItems, "secret");
  checkUniqueAddresses(ctx, listeners, listenerItems);
  nameUnnamedListeners(listeners);
  checkClusterReferences(ctx, clusters, resources.at("clusters"));
  readLayeredRuntime(root.message("layered_runtime", LAYERED_RUNTIME_SPEC));
  const node = readNode(root.message("node", NODE_SPEC));
  const dynamicResources = root.has("dynamic_resources")
    ? readDynamicResources(root.message("dynamic_resources", DYNAMIC_RESOURCES_SPEC), clusters, paths0(clusterItems))
    : undefined;
  if (dynamicResources !== undefined && node.id === "")
    root.report("node", "node.id is required with dynamic_resources: the control plane knows the proxy by it");
  return {
    ...(dynamicResources === undefined ? {} : { dynamicResources }),
    node,
    admin: root.has("admin") ? readAdmin(root.message("admin", ADMIN_SPEC)) : undefined,
    staticResources: { listeners, clusters, ...(secrets.length === 0 ? {} : { secrets }) },
    drainTimeoutMs: root.message("trellis", TRELLIS_SPEC).durationMs("drain_timeout") ?? DEFAULT_DRAIN_TIMEOUT_MS,
  };
}

/**
 * layered_runtime: the forms Envoy's examples write are accepted because they change nothing here — no layers, an
 * empty static_layer, an admin_layer (runtime overrides through the admin API, which has none to make). A static
 * layer with keys would override Envoy's runtime values (feature flags, limits): refused, key by key, since no
 * runtime key is honoured; disk and RTDS layers likewise.
 */
function readLayeredRuntime(runtime: Fields): void {
  for (const item of runtime.list("layers")) {
    const layer = Fields.open(runtime.ctx, item.value, item.path, RUNTIME_LAYER_SPEC);
    layer.string("name");
    layer.oneOf(["static_layer", "admin_layer"], false);
    if (layer.has("admin_layer")) layer.map("admin_layer");
    for (const key of Object.keys(layer.map("static_layer"))) {
      runtime.ctx.report(
        childPath(layer.at("static_layer"), key),
        "runtime keys are not supported yet: Trellis honours no runtime override",
      );
    }
  }
}

const DYNAMIC_RESOURCES_SPEC = {
  handled: ["ads_config", "lds_config", "cds_config"],
  unsupported: ["lds_resources_locator", "cds_resources_locator"],
} as const;
const API_CONFIG_SOURCE_SPEC = {
  handled: ["api_type", "transport_api_version", "grpc_services"],
  // Whether the node is sent on every request or the first only: the wire's size, not what is configured.
  ignored: ["set_node_on_first_message_only"],
  unsupported: ["cluster_names", "refresh_delay", "request_timeout", "rate_limit_settings", "config_validators"],
} as const;
const GRPC_SERVICE_SPEC = {
  handled: ["envoy_grpc"],
  // The deadline of unary calls; ADS is one long stream, which Envoy does not time either.
  ignored: ["timeout"],
  unsupported: ["google_grpc", "initial_metadata", "retry_policy"],
} as const;
const ENVOY_GRPC_SPEC = {
  handled: ["cluster_name"],
  unsupported: ["authority", "retry_policy", "max_receive_message_length", "skip_envoy_headers"],
} as const;
const DYNAMIC_CONFIG_SOURCE_SPEC = {
  handled: ["ads", "resource_api_version"],
  ignored: ["initial_fetch_timeout", "authorities"],
  unsupported: ["path", "path_config_source", "api_config_source", "self"],
} as const;
/** ApiConfigSource.ApiType by number; only the gRPC ones are spoken, over one aggregated stream. */
const API_TYPES = [undefined, undefined, "GRPC", "DELTA_GRPC", undefined, "AGGREGATED_GRPC", "AGGREGATED_DELTA_GRPC"];
const UNSUPPORTED_API_TYPES = ["DEPRECATED_AND_UNAVAILABLE_DO_NOT_USE", "REST"];
const API_VERSIONS = ["AUTO", undefined, "V3"];
const UNSUPPORTED_API_VERSIONS = [undefined, "V2"];

function paths0(items: Item[]): string[] {
  return items.map((item) => item.path);
}

/**
 * dynamic_resources as Envoy's examples write it: ads_config naming a static cluster (envoy_grpc.cluster_name) and
 * lds_config and cds_config both `{ads: {}}`. The proxy then starts its xDS client at that cluster's endpoints.
 */
function readDynamicResources(
  dynamic: Fields,
  clusters: readonly Cluster[],
  clusterPaths: readonly string[],
): DynamicResources | undefined {
  const ads = dynamic.message("ads_config", API_CONFIG_SOURCE_SPEC);
  for (const source of ["lds_config", "cds_config"] as const) {
    if (!dynamic.requireField(source)) continue;
    const config = dynamic.message(source, DYNAMIC_CONFIG_SOURCE_SPEC);
    config.enumValue("resource_api_version", API_VERSIONS, "V3", UNSUPPORTED_API_VERSIONS);
    if (!config.broken && !config.has("ads"))
      config.report("ads", "required: Trellis subscribes to listeners and clusters over ADS only");
    if (config.has("ads")) config.map("ads");
  }
  if (!dynamic.requireField("ads_config") || ads.broken) return undefined;
  const apiType = ads.requireField("api_type")
    ? ads.enumValue("api_type", API_TYPES, "GRPC", UNSUPPORTED_API_TYPES)
    : "GRPC";
  ads.enumValue("transport_api_version", API_VERSIONS, "V3", UNSUPPORTED_API_VERSIONS);
  const services = ads.list("grpc_services");
  if (services.length !== 1) {
    if (!ads.broken) ads.report("grpc_services", `expected exactly one gRPC service, got ${services.length}`);
    return undefined;
  }
  const service = Fields.open(dynamic.ctx, services[0]!.value, services[0]!.path, GRPC_SERVICE_SPEC);
  if (!service.requireField("envoy_grpc")) return undefined;
  const envoyGrpc = service.message("envoy_grpc", ENVOY_GRPC_SPEC);
  const adsCluster = envoyGrpc.requiredString("cluster_name");
  if (adsCluster === "") return undefined;
  const index = clusters.findIndex((c) => c.name === adsCluster);
  const cluster = clusters[index];
  if (cluster === undefined) {
    envoyGrpc.report(
      "cluster_name",
      `unknown cluster ${describe(adsCluster)}: the control plane's cluster must be a static one`,
    );
    return undefined;
  }
  const servers = (cluster.loadAssignment?.endpoints ?? []).flatMap((group) =>
    group.lbEndpoints.map(({ address: { address, port } }) =>
      address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`,
    ),
  );
  if (cluster.type === "EDS" || servers.length === 0) {
    envoyGrpc.report(
      "cluster_name",
      `cluster ${describe(adsCluster)} (${clusterPaths[index]}) has no endpoints of its own: the control plane's cluster needs a load_assignment`,
    );
    return undefined;
  }
  const protocol = apiType === "DELTA_GRPC" || apiType === "AGGREGATED_DELTA_GRPC" ? "delta" : "sotw";
  return { adsCluster, servers: [...new Set(servers)], protocol };
}

function readNode(node: Fields): NodeInfo {
  return { id: node.string("id") ?? "", cluster: node.string("cluster") ?? "", metadata: node.map("metadata") };
}

function readAdmin(admin: Fields): Bootstrap["admin"] {
  if (!admin.requireField("address")) return undefined;
  const address = readAddress(admin.ctx, admin.raw("address"), admin.at("address"), {
    allowHostName: false,
    allowPortZero: true,
  });
  const accessLogPath = admin.string("access_log_path");
  return {
    address,
    accessLog: admin.list("access_log").map((item) => item.value as Record<string, unknown>),
    ...(accessLogPath === undefined || accessLogPath === "" ? {} : { accessLogPath }),
  };
}

/**
 * Envoy gives an unnamed listener a name of its own; here it is the listener's address (`127.0.0.1_10000`, as its
 * stats are named), with `_N` (its index) added when that is taken.
 */
function nameUnnamedListeners(listeners: Listener[]): void {
  const taken = new Set(listeners.map((l) => l.name));
  listeners.forEach((listener, i) => {
    if (listener.name !== "") return;
    let name = `${listener.address.address}_${listener.address.port}`;
    if (taken.has(name)) name = `${name}_${i}`;
    taken.add(name);
    listener.name = name;
  });
}

function checkUniqueNames(ctx: ParseContext, resources: { name: string }[], items: Item[], kind: string): void {
  const first = new Map<string, number>();
  resources.forEach((resource, i) => {
    if (resource.name === "") return;
    const earlier = first.get(resource.name);
    if (earlier === undefined) first.set(resource.name, i);
    else
      ctx.report(
        childPath(items[i].path, "name"),
        `duplicate ${kind} name ${describe(resource.name)} (also at ${items[earlier].path})`,
      );
  });
}

/** Two listeners on one address and port would fail to bind; port 0 asks the kernel for a fresh port each time. */
function checkUniqueAddresses(ctx: ParseContext, listeners: Listener[], items: Item[]): void {
  const first = new Map<string, number>();
  listeners.forEach((listener, i) => {
    const { address, port } = listener.address;
    if (address === "" || port === 0) return;
    const key = `${address}:${port}`;
    const earlier = first.get(key);
    if (earlier === undefined) first.set(key, i);
    else
      ctx.report(
        childPath(items[i].path, "address"),
        `address ${key} is already used by listener ${describe(listeners[earlier].name)}`,
      );
  });
}

function checkClusterReferences(ctx: ParseContext, clusters: Cluster[], clustersPath: string): void {
  const names = new Set(clusters.map((c) => c.name));
  for (const reference of ctx.clusterReferences) {
    if (!names.has(reference.cluster)) {
      ctx.report(
        reference.path,
        `unknown cluster ${describe(reference.cluster)}: no cluster in ${clustersPath} has this name`,
      );
    }
  }
}
