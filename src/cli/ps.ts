// `trellis ps [SERVICE] [-n NS | -A] [-o json|yaml]`: what runs in the mesh, one row per workload, from the
// registry (service, version, namespace, address, ports, health, how long it has been registered) joined with
// proxy-status by the sidecar's node id (is its configuration in sync: SYNCED, STALE, NACK, NOT SENT, or
// DISCONNECTED when the sidecar is not connected). Sidecars connected without a registration (`trellis run` pure
// clients, `trellis proxy` without --register) are listed too, as clients. `get workloads` stays the registry's
// own view (labels, lease, expired instances).

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { state, TYPES, type ProxyRow } from "./proxy-status.ts";
import { table } from "./table.ts";

export interface PsOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: "json" | "yaml";
}

interface Instance {
  id: string;
  service: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  ports: { name: string; number: number; protocol: string; sidecarPort?: number; servicePort?: number }[];
  nodeId?: string;
  registeredAt?: number;
  health?: { status: string; detail?: string };
}

/** One row of `trellis ps`, as -o json|yaml gives it. */
export interface PsItem {
  kind: "workload" | "client";
  id: string;
  service: string;
  version: string;
  namespace: string;
  address: string;
  ports: string[];
  health: string;
  nodeId: string | undefined;
  /** The sidecar's sync state as a whole: the worst of its types (NACK, STALE, SYNCED), else NOT SENT. */
  sync: string;
  /** Per configuration type (CDS, LDS, EDS, RDS), as proxy-status says it. */
  syncByType: Record<string, string>;
  /** Seconds since the instance registered (workloads), since the sidecar connected (clients). */
  uptimeSeconds: number | undefined;
}

export async function runPs(service: string | undefined, options: PsOptions, now = Date.now): Promise<number> {
  const namespace = options.allNamespaces ? undefined : (options.namespace ?? "default");
  try {
    const [registry, proxies] = await Promise.all([
      callControl("GET", "/api/v1/registry/instances"),
      callControl("GET", "/api/v1/proxies"),
    ]);
    if (reportErrors("ps", registry) !== 0 || reportErrors("ps", proxies) !== 0) return 1;
    const instances = (registry.json.instances as Instance[] | undefined) ?? [];
    const connected = new Map(((proxies.json.proxies as ProxyRow[] | undefined) ?? []).map((p) => [p.nodeId, p]));
    const items = psItems(instances, connected, now())
      .filter((i) => namespace === undefined || i.namespace === namespace)
      .filter((i) => service === undefined || i.service === service || i.id === service);
    if (service !== undefined && items.length === 0) {
      process.stderr.write(
        `trellis ps: nothing named "${service}" runs in ` +
          `${namespace === undefined ? "any namespace" : `namespace ${namespace}`} (\`trellis ps -A\` lists all)\n`,
      );
      return 1;
    }
    if (options.output === "json") process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
    else if (options.output === "yaml") process.stdout.write(stringify({ items }));
    else process.stdout.write(render(items));
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis ps: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export function psItems(instances: Instance[], connected: Map<string, ProxyRow>, now: number): PsItem[] {
  const seen = new Set<string>();
  const items: PsItem[] = instances.map((i) => {
    const proxy = i.nodeId === undefined ? undefined : connected.get(i.nodeId);
    if (i.nodeId !== undefined) seen.add(i.nodeId);
    return {
      kind: "workload",
      id: i.id,
      service: i.service,
      version: i.labels.version ?? "",
      namespace: i.namespace,
      address: i.address,
      ports: i.ports.map((p) => `${p.servicePort ?? p.number}/${p.protocol}`),
      health: i.health?.status ?? "unknown",
      nodeId: i.nodeId,
      ...sync(proxy, i.nodeId !== undefined),
      uptimeSeconds: i.registeredAt === undefined ? undefined : Math.max(0, Math.round((now - i.registeredAt) / 1000)),
    };
  });
  for (const [nodeId, proxy] of connected) {
    if (seen.has(nodeId)) continue;
    // A node id is NAME[-suffix].NAMESPACE as trellis run and istio's sidecars write it.
    const dot = nodeId.lastIndexOf(".");
    const raw = proxy.connectedSince as unknown;
    const since = typeof raw === "number" ? raw : Date.parse(String(raw ?? ""));
    items.push({
      kind: "client",
      id: nodeId,
      service: dot > 0 ? nodeId.slice(0, dot) : nodeId,
      version: "",
      namespace: dot > 0 ? nodeId.slice(dot + 1) : "default",
      address: "",
      ports: [],
      health: "-",
      nodeId,
      ...sync(proxy, true),
      uptimeSeconds: Number.isNaN(since) ? undefined : Math.max(0, Math.round((now - since) / 1000)),
    });
  }
  return items.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.id.localeCompare(b.id));
}

function sync(proxy: ProxyRow | undefined, hasSidecar: boolean): Pick<PsItem, "sync" | "syncByType"> {
  if (proxy === undefined) return { sync: hasSidecar ? "DISCONNECTED" : "-", syncByType: {} };
  const byType = Object.fromEntries(TYPES.map(([short, url]) => [short, state(proxy.types[url])]));
  const states = Object.values(byType);
  const overall = (["NACK", "STALE", "SYNCED"] as const).find((s) => states.includes(s)) ?? "NOT SENT";
  return { sync: overall, syncByType: byType };
}

function render(items: PsItem[]): string {
  if (items.length === 0) return "Nothing runs in the mesh.\n";
  return table(
    ["SERVICE", "VERSION", "NAMESPACE", "ADDRESS", "PORTS", "HEALTH", "SYNC", "UPTIME"],
    items.map((i) => [
      i.kind === "client" ? `${i.service} (client)` : i.service,
      i.version || "-",
      i.namespace,
      i.address || "-",
      i.ports.join(",") || "-",
      i.health,
      i.sync,
      i.uptimeSeconds === undefined ? "-" : duration(i.uptimeSeconds),
    ]),
  );
}

function duration(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}
