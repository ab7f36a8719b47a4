// `trellis get workloads [NAME] [-n NS | -A] [-o yaml|json]`: the instances registered in the mesh, from the
// registry API — service, namespace, address, ports, labels, health (does its sidecar's port accept connections)
// and lease (when it runs out) — and, listed as expired, the ones whose lease ran out. NAME is a service name (all
// its instances) or one instance's id.

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import type { GetOptions } from "./get.ts";
import { table } from "./table.ts";

const NAMES = ["workloads", "workload", "wl"];

export function isWorkloads(typed: string): boolean {
  return NAMES.includes(typed.toLowerCase());
}

interface Listed {
  id: string;
  service: string;
  namespace: string;
  address: string;
  labels: Record<string, string>;
  ports: { name: string; number: number; protocol: string; sidecarPort?: number; servicePort?: number }[];
  state: "active" | "expired";
  health?: { status: string; detail?: string };
  lease?: { expiresAt?: string; ttlSeconds?: number };
  expiredAt?: string;
}

export async function runGetWorkloads(
  name: string | undefined,
  options: GetOptions,
  now: () => number = Date.now,
): Promise<number> {
  const namespace = options.allNamespaces ? undefined : (options.namespace ?? "default");
  try {
    const reply = await callControl("GET", "/api/v1/registry/instances");
    if (reportErrors("get", reply) !== 0) return 1;
    const all = [...((reply.json.instances as Listed[]) ?? []), ...((reply.json.expired as Listed[]) ?? [])];
    const items = all
      .filter((i) => namespace === undefined || i.namespace === namespace)
      .filter((i) => name === undefined || i.service === name || i.id === name)
      .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.id.localeCompare(b.id));
    if (name !== undefined && items.length === 0) {
      process.stderr.write(
        `trellis get: no workload "${name}" in ${namespace === undefined ? "any namespace" : `namespace ${namespace}`}` +
          ` (a service name or an instance id; \`trellis get workloads -A\` lists them all)\n`,
      );
      return 1;
    }
    if (options.output === "json") process.stdout.write(`${JSON.stringify({ items }, null, 2)}\n`);
    else if (options.output === "yaml") process.stdout.write(items.map((i) => stringify(i)).join("---\n"));
    else process.stdout.write(render(items, now()));
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis get: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/**
 * NAME:PORT→sidecar:S/PROTO, PORT being where the application listens; with a service port apart from it (trellis
 * run), NAME:SERVICE_PORT→sidecar:S→app:APP_PORT/PROTO, the path of a call.
 */
function portCell(p: Listed["ports"][number]): string {
  const sidecar = p.sidecarPort !== undefined ? `→sidecar:${p.sidecarPort}` : "";
  if (p.servicePort !== undefined) return `${p.name}:${p.servicePort}${sidecar}→app:${p.number}/${p.protocol}`;
  return `${p.name}:${p.number}${sidecar}/${p.protocol}`;
}

function render(items: Listed[], now: number): string {
  if (items.length === 0) return "No workloads registered.\n";
  const out = table(
    ["SERVICE", "NAMESPACE", "ADDRESS", "PORTS", "LABELS", "HEALTH", "LEASE"],
    items.map((i) => [
      i.service,
      i.namespace,
      i.address,
      i.ports.map(portCell).join(","),
      Object.entries(i.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(",") || "<none>",
      i.state === "expired" ? "-" : (i.health?.status ?? "unknown"),
      lease(i, now),
    ]),
  );
  // Why an instance is unreachable, below the table, as proxy-status shows NACKs.
  const notes = items
    .filter((i) => i.state === "active" && i.health?.status === "unreachable" && i.health.detail)
    .map((i) => `\n${i.id} unreachable: ${i.health!.detail}\n`);
  return out + notes.join("");
}

function lease(i: Listed, now: number): string {
  if (i.state === "expired") return `EXPIRED ${ago(now - Date.parse(i.expiredAt ?? ""))} ago`;
  const at = Date.parse(i.lease?.expiresAt ?? "");
  return Number.isNaN(at) ? "" : `expires in ${ago(at - now)}`;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  return `${Math.round(s / 3600)}h`;
}
