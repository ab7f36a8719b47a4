// `trellis proxy-status`: every connected proxy, the version of each configuration type it was sent, and whether
// it ACKed — or the error of its NACK, in full (Istio shows STALE and leaves you to find out why).

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { problemCount, renderProblems, type ProxyProblem } from "./proxy-problems.ts";
import { table } from "./table.ts";

/** One proxy as GET /api/v1/proxies reports it. */
export interface ProxyRow {
  nodeId: string;
  connectedSince?: string;
  types: Record<string, { sentVersion?: string; ackedVersion?: string; nack?: { message: string; at?: string } }>;
  /** What its configuration leaves out, and the not-enforced resources that select it. */
  problems?: ProxyProblem[];
}

export const TYPES: [string, string][] = [
  ["CDS", "type.googleapis.com/envoy.config.cluster.v3.Cluster"],
  ["LDS", "type.googleapis.com/envoy.config.listener.v3.Listener"],
  ["EDS", "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"],
  ["RDS", "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"],
];

export interface ProxyStatusOptions {
  /** The full status as data instead of the table: a list of proxies, or the one proxy asked for. */
  output?: "json" | "yaml";
}

export async function runProxyStatus(only?: string, options: ProxyStatusOptions = {}): Promise<number> {
  // `proxy-status PROXY`: that proxy's row and each of its problems.
  try {
    const reply = await callControl("GET", "/api/v1/proxies");
    if (reportErrors("proxy-status", reply) !== 0) return 1;
    const all = (reply.json.proxies as ProxyRow[] | undefined) ?? [];
    const proxies = only === undefined ? all : all.filter((p) => p.nodeId === only);
    if (only !== undefined && proxies.length === 0) {
      process.stderr.write(`trellis proxy-status: proxy ${only}: not connected\n`);
      return 1;
    }
    if (options.output !== undefined) {
      // Each proxy as the control plane reports it, with the table's states by short name (sync) in front.
      const full = proxies.map(({ nodeId, ...rest }) => ({
        nodeId,
        sync: Object.fromEntries(TYPES.map(([short, url]) => [short, state(rest.types[url])])),
        ...rest,
      }));
      const data = only === undefined ? full : full[0];
      process.stdout.write(options.output === "json" ? `${JSON.stringify(data, null, 2)}\n` : stringify(data));
      return 0;
    }
    if (proxies.length === 0) {
      process.stdout.write("No proxies connected.\n");
      return 0;
    }
    const rows = proxies.map((p) => [
      p.nodeId,
      ...TYPES.map(([, url]) => state(p.types[url])),
      versionOf(p),
      problemCount(p.problems),
    ]);
    process.stdout.write(table(["NAME", ...TYPES.map(([short]) => short), "VERSION", "PROBLEMS"], rows));
    // NACKs in full, below the table: the reason a proxy is not in sync is the thing users need.
    for (const p of proxies)
      for (const [short, url] of TYPES) {
        const nack = p.types[url]?.nack;
        if (nack !== undefined) process.stdout.write(`\n${p.nodeId} rejected ${short}: ${nack.message}\n`);
      }
    if (only !== undefined) process.stdout.write(renderProblems(only, proxies[0]!.problems));
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis proxy-status: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export function state(t: ProxyRow["types"][string] | undefined): string {
  if (t === undefined || t.sentVersion === undefined) return "NOT SENT";
  if (t.nack !== undefined && t.ackedVersion !== t.sentVersion) return "NACK";
  return t.ackedVersion === t.sentVersion ? "SYNCED" : "STALE";
}

function versionOf(p: ProxyRow): string {
  const versions = new Set(Object.values(p.types).map((t) => t.ackedVersion ?? ""));
  return [...versions].filter(Boolean).join(",").slice(0, 24);
}
