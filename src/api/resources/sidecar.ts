// Sidecar (networking.istio.io): what one workload's proxy may reach (egress hosts, `namespace/host`), what it
// accepts (ingress ports) and what happens to traffic for unknown hosts (outboundTrafficPolicy).

import type { SidecarPort, SidecarSpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import type { Item } from "./fields.ts";
import { readDestination, readHosts, readPortNumber, readProtocol, readWorkloadSelector, MAX_PORT } from "./common.ts";
import { readConnectionPool, assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = { known: ["workloadSelector", "ingress", "egress", "outboundTrafficPolicy", "inboundConnectionPool"] };
const CAPTURE_MODES = ["DEFAULT", "IPTABLES", "NONE"] as const;

export function readSidecarSpec(ctx: ResourceContext, raw: unknown, path: string): SidecarSpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const spec: SidecarSpec = {
    ingress: f.list("ingress").map((item) => {
      const i = SpecFields.open(ctx, item.value, item.path, {
        known: ["port", "bind", "captureMode", "defaultEndpoint", "connectionPool"],
        refused: { tls: "ingress tls (terminating TLS at the sidecar) is not supported" },
      });
      const port = i.require("port")
        ? readSidecarPort(ctx, { value: i.raw("port"), path: i.at("port") })
        : { number: 0 };
      const ingress: SidecarSpec["ingress"][number] = { port };
      assign(ingress, "bind", i.string("bind"));
      assign(ingress, "captureMode", i.enumValue("captureMode", CAPTURE_MODES));
      assign(ingress, "defaultEndpoint", i.string("defaultEndpoint"));
      if (i.has("connectionPool"))
        ingress.connectionPool = readConnectionPool(ctx, i.raw("connectionPool"), i.at("connectionPool"));
      return ingress;
    }),
    egress: f.list("egress").map((item) => {
      const e = SpecFields.open(ctx, item.value, item.path, { known: ["port", "bind", "captureMode", "hosts"] });
      const hosts = readHosts(e, "hosts", true, true);
      hosts.forEach((host, i) => {
        if (!host.includes("/"))
          e.ctx.error(
            `${e.at("hosts")}[${i}]`,
            `expected "namespace/host" (like "./*" or "istio-system/*"), got ${describe(host)}`,
          );
      });
      const egress: SidecarSpec["egress"][number] = { hosts };
      if (e.has("port")) egress.port = readSidecarPort(ctx, { value: e.raw("port"), path: e.at("port") });
      assign(egress, "bind", e.string("bind"));
      assign(egress, "captureMode", e.enumValue("captureMode", CAPTURE_MODES));
      return egress;
    }),
  };
  if (f.has("workloadSelector"))
    spec.workloadSelector = readWorkloadSelector(ctx, f.raw("workloadSelector"), f.at("workloadSelector"));
  if (f.has("outboundTrafficPolicy")) {
    const o = f.message("outboundTrafficPolicy", { known: ["mode", "egressProxy"] });
    spec.outboundTrafficPolicy = { mode: o.enumValue("mode", ["REGISTRY_ONLY", "ALLOW_ANY"] as const) ?? "ALLOW_ANY" };
    if (o.has("egressProxy"))
      spec.outboundTrafficPolicy.egressProxy = readDestination(ctx, o.raw("egressProxy"), o.at("egressProxy"));
  }
  if (f.has("inboundConnectionPool")) {
    spec.inboundConnectionPool = readConnectionPool(ctx, f.raw("inboundConnectionPool"), f.at("inboundConnectionPool"));
  }
  const catchAll = spec.egress.filter((e) => e.port === undefined).length;
  if (catchAll > 1) f.error("egress", "at most one egress listener may omit its port (the catch-all)");
  return spec;
}

function readSidecarPort(ctx: ResourceContext, item: Item): SidecarPort {
  const p = SpecFields.open(ctx, item.value, item.path, { known: ["number", "protocol", "name", "targetPort"] });
  const port: SidecarPort = { number: readPortNumber(p, "number") ?? 0 };
  assign(port, "protocol", readProtocol(p, "protocol"));
  assign(port, "name", p.string("name"));
  assign(port, "targetPort", p.integer("targetPort", 1, MAX_PORT));
  return port;
}
