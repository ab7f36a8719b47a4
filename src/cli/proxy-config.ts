// `trellis proxy-config listeners|routes|clusters|endpoints|nametable PROXY [-o json|yaml]`: what the control plane
// sends that proxy, as Envoy JSON (or a summary table), like istioctl proxy-config. `nametable`: the hosts a
// capture-mode sidecar's DNS proxy answers, with their VIPs (docs/translation.md, "Capture mode").

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { table } from "./table.ts";

const TYPES = ["listeners", "routes", "clusters", "endpoints", "secrets", "nametable"] as const;
type ConfigType = (typeof TYPES)[number];

/** The options main.ts's commander parses for this verb. */
export interface ProxyConfigOptions {
  output?: "json" | "yaml";
}

export async function runProxyConfig(type: string, proxy: string, options: ProxyConfigOptions): Promise<number> {
  if (!TYPES.includes(type as ConfigType)) {
    process.stderr.write(`trellis proxy-config: expected ${TYPES.join("|")} PROXY\n`);
    return 2;
  }
  const output = options.output ?? "table";
  try {
    const reply = await callControl("GET", `/api/v1/proxies/${encodeURIComponent(proxy)}/config/${type}`);
    if (reportErrors("proxy-config", reply) !== 0) return 1;
    const items = (reply.json.items as Record<string, unknown>[] | undefined) ?? [];
    if (output === "json") process.stdout.write(`${JSON.stringify(items, null, 2)}\n`);
    else if (output === "yaml") process.stdout.write(items.map((i) => stringify(i)).join("---\n"));
    else process.stdout.write(summary(type as ConfigType, items));
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis proxy-config: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function summary(type: ConfigType, items: Record<string, unknown>[]): string {
  if (items.length === 0) return `No ${type}.\n`;
  switch (type) {
    case "listeners":
      return table(
        ["NAME", "ADDRESS", "PORT"],
        items.map((l) => {
          const a = (l.address as { socket_address?: { address?: string; port_value?: number } })?.socket_address;
          return [String(l.name), a?.address ?? "", String(a?.port_value ?? "")];
        }),
      );
    case "routes":
      return table(
        ["NAME", "VIRTUAL HOSTS"],
        items.map((r) => [String(r.name), String(((r.virtual_hosts as unknown[]) ?? []).length)]),
      );
    case "clusters":
      return table(
        ["NAME", "TYPE", "LB"],
        items.map((c) => [String(c.name), String(c.type ?? "EDS"), String(c.lb_policy ?? "ROUND_ROBIN")]),
      );
    case "nametable":
      return table(
        ["HOST", "ADDRESSES", "REGISTRY", "NAMESPACE"],
        items.flatMap((nt) =>
          Object.entries(
            (nt.table as Record<string, { ips?: string[]; registry?: string; namespace?: string }>) ?? {},
          ).map(([host, info]) => [host, (info.ips ?? []).join(","), info.registry ?? "", info.namespace ?? ""]),
        ),
      );
    case "secrets":
      // Names and kinds only (the JSON shows the certificate; the private key is redacted by the control plane).
      return table(
        ["NAME", "KIND"],
        items.map((s) => [String(s.name), s.tls_certificate !== undefined ? "certificate and key" : "CA certificate"]),
      );
    case "endpoints":
      return table(
        ["CLUSTER", "ENDPOINT"],
        items.flatMap((cla) =>
          (
            (cla.endpoints as {
              lb_endpoints?: {
                endpoint?: { address?: { socket_address?: { address?: string; port_value?: number } } };
              }[];
            }[]) ?? []
          ).flatMap((group) =>
            (group.lb_endpoints ?? []).map((e) => {
              const a = e.endpoint?.address?.socket_address;
              return [String(cla.cluster_name), `${a?.address ?? ""}:${a?.port_value ?? ""}`];
            }),
          ),
        ),
      );
  }
}
