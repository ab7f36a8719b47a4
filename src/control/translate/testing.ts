// Test helpers (not used by production code): a translation case from testdata/<case>.yaml — the world (registered
// services, Istio resources as users write them) and the proxy — and the checks every output must pass.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { loadResources } from "../../api/resources/load.ts";
import type { Resource } from "../../api/resources/types.ts";
import type { Json } from "./envoy.ts";
import type { ProxyIdentity } from "./proxy-identity.ts";
import { proxyIdentityFromNode } from "./proxy-identity.ts";
import { meshWorldInput, parseMeshConfigText } from "../mesh-config.ts";
import type { MeshWorldInput, OutboundTrafficPolicyMode, SecretSummary } from "./world-index.ts";
import { World } from "./world-index.ts";
import type { ServiceInstance, ServiceModel } from "./world.ts";

export const TESTDATA = join(import.meta.dirname, "testdata");

export interface TranslationCase {
  world: World;
  proxy: ProxyIdentity;
}

/** Istio fields that hold durations; the store's reader turns "1.5s" into milliseconds, and so does this loader. */
const DURATION_KEYS = new Set([
  "timeout",
  "perTryTimeout",
  "fixedDelay",
  "interval",
  "baseEjectionTime",
  "connectTimeout",
  "idleTimeout",
  "ttl",
  "maxAge",
  "maxConnectionDuration",
  "time",
]);
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function durationMs(text: string): number {
  let total = 0;
  for (const [, num, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(num) * UNIT_MS[unit!]!;
  return Math.round(total);
}

function normalise(value: unknown, key = ""): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, k)]));
  }
  if (typeof value === "string" && DURATION_KEYS.has(key)) return durationMs(value);
  return value;
}

/** The resource envelope's defaults (namespace "default"), durations in ms; the spec otherwise as written. */
export function toResource(raw: Record<string, unknown>): Resource {
  const r = normalise(raw) as Resource;
  const metadata = (r.metadata ?? {}) as Partial<Resource["metadata"]>;
  return {
    ...r,
    metadata: {
      name: metadata.name ?? "",
      namespace: metadata.namespace ?? "default",
      labels: {},
      annotations: {},
      ...metadata,
    },
  } as Resource;
}

type RawService = Partial<ServiceModel> & { hostname: string; instances?: Partial<ServiceInstance>[] };

export function toService(raw: RawService): ServiceModel {
  const namespace = raw.namespace ?? raw.hostname.split(".")[1] ?? "default";
  return {
    hostname: raw.hostname,
    namespace,
    ports: (raw.ports ?? []).map((p) => ({ ...p, protocol: (p.protocol ?? "HTTP").toUpperCase() })),
    resolution: raw.resolution ?? "STATIC",
    exportTo: raw.exportTo ?? [],
    instances: (raw.instances ?? []).map((i) => ({
      address: i.address ?? "",
      ports: i.ports ?? {},
      labels: i.labels ?? {},
      weight: i.weight ?? 1,
      ...(i.locality !== undefined ? { locality: i.locality } : {}),
      hasSidecar: i.hasSidecar ?? Object.values(i.ports ?? {}).some((p) => p.sidecarPort !== undefined),
    })),
  };
}

interface RawCase {
  /** Other files under testdata/ whose services and resources come first (e.g. base/bookinfo.yaml). */
  include?: string[];
  /**
   * The MeshConfig, as Istio's mesh ConfigMap key writes it (read by the control plane's own reader);
   * `outboundTrafficPolicy: MODE` is short for `outboundTrafficPolicy: { mode: MODE }`.
   */
  mesh?: Record<string, unknown> & { outboundTrafficPolicy?: OutboundTrafficPolicyMode | { mode: string } };
  services?: RawService[];
  /** Stored TLS secrets (no key material): what Gateway credentialNames refer to. */
  secrets?: SecretSummary[];
  resources?: Record<string, unknown>[];
  /** Either an xDS node (id + metadata, read with proxyIdentityFromNode) or a ProxyIdentity written out. */
  node?: { id: string; metadata: Record<string, unknown> };
  proxy?: Partial<ProxyIdentity> & { id: string };
}

function meshOf(mesh: RawCase["mesh"], file: string): MeshWorldInput {
  if (mesh === undefined) return {};
  const policy = mesh.outboundTrafficPolicy;
  const istio = typeof policy === "string" ? { ...mesh, outboundTrafficPolicy: { mode: policy } } : mesh;
  return meshWorldInput(parseMeshConfigText(stringifyYaml(istio), `${file} mesh`));
}

function readRaw(file: string): RawCase {
  return (parseYaml(readFileSync(join(TESTDATA, file), "utf8")) ?? {}) as RawCase;
}

export function loadCase(file: string): TranslationCase {
  const raw = readRaw(file);
  const parts = [...(raw.include ?? []).map(readRaw), raw];
  const services = parts.flatMap((p) => p.services ?? []).map(toService);
  const resources = readResources(
    parts.flatMap((p) => p.resources ?? []),
    file,
  );
  const secrets = parts.flatMap((p) => p.secrets ?? []);
  const world = World.fromResources(resources, services, { ...meshOf(raw.mesh, file), secrets });
  // The case's own node or proxy, else the last included file's.
  const who = [...parts].reverse().find((p) => p.node !== undefined || p.proxy !== undefined);
  let proxy: ProxyIdentity;
  if (who?.node !== undefined) proxy = proxyIdentityFromNode(who.node);
  else {
    const p = who?.proxy ?? { id: "proxy" };
    proxy = {
      namespace: "default",
      labels: {},
      ports: [],
      outboundPort: 15001,
      tcpOutboundAddress: "127.0.0.1",
      ...p,
    };
  }
  return { world, proxy };
}

/**
 * The resources through the store's own reader (validation, defaults, durations). A case that is deliberately
 * invalid (translation must survive what validation would refuse) falls back to a plain conversion.
 */
function readResources(raw: Record<string, unknown>[], file: string): Resource[] {
  try {
    return loadResources(JSON.stringify({ apiVersion: "v1", kind: "List", items: raw }), file).resources;
  } catch {
    return raw.map(toResource);
  }
}

/** A listener whose HCMs read RDS, with the named route configuration inlined (the static parser's form). */
export function inlineRds(listener: Json, routes: readonly Json[]): Json {
  const copy = structuredClone(listener);
  for (const chain of (copy.filter_chains as Json[] | undefined) ?? []) {
    for (const filter of (chain.filters as Json[] | undefined) ?? []) {
      const config = filter.typed_config as Json | undefined;
      const rds = config?.rds as { route_config_name?: string } | undefined;
      if (config === undefined || rds === undefined) continue;
      delete config.rds;
      config.route_config = routes.find((r) => r.name === rds.route_config_name) ?? { name: rds.route_config_name };
    }
  }
  return copy;
}
