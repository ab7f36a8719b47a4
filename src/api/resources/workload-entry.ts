// WorkloadEntry (networking.istio.io): a workload outside the registry (a VM, a process) given labels and ports so
// services select it like any instance. The same message is a ServiceEntry's endpoint.

import { isIP } from "node:net";
import type { WorkloadEntrySpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { checkHost, isDns1123Label, readLabels, MAX_PORT } from "./common.ts";
import { assign } from "./traffic-policy.ts";
import { describe } from "../xds/parse/context.ts";

const SPEC = { known: ["address", "ports", "labels", "network", "locality", "weight", "serviceAccount"] };

/** A WorkloadEntry needs an address unless it names a network (reached through its gateway; Istio warns then). */
export function readWorkloadEntrySpec(ctx: ResourceContext, raw: unknown, path: string): WorkloadEntrySpec {
  const f = SpecFields.open(ctx, raw, path, SPEC);
  const spec: WorkloadEntrySpec = { ports: {}, labels: readLabels(f, "labels") };
  const address = f.string("address");
  if (address !== undefined) {
    checkAddress(f, address);
    spec.address = address;
  }
  for (const entry of f.entries("ports")) {
    if (!isDns1123Label(entry.key))
      ctx.error(entry.path, `expected a port name (a DNS-1123 label: a-z, 0-9, "-"), got ${describe(entry.key)}`);
    if (
      typeof entry.value === "number" &&
      Number.isInteger(entry.value) &&
      entry.value >= 1 &&
      entry.value <= MAX_PORT
    ) {
      spec.ports[entry.key] = entry.value;
    } else ctx.error(entry.path, `expected a port number 1-65535, got ${describe(entry.value)}`);
  }
  if (address?.startsWith("unix://") === true && f.has("ports") && f.entries("ports").length > 0)
    f.error("ports", "not allowed with a unix:// address (a socket has no ports)");
  for (const field of ["network", "locality", "serviceAccount"] as const) assign(spec, field, f.string(field));
  assign(spec, "weight", f.integer("weight", 0, 4_294_967_295));
  if (!f.broken && (address === undefined || address === "")) {
    if (spec.network === undefined || spec.network === "") {
      if (address === undefined)
        f.error(
          "address",
          "required (unless network is given: the workload is then reached through its network's gateway)",
        );
    } else f.warn("address", `not set: the workload is reached through network ${describe(spec.network)}'s gateway`);
  }
  return spec;
}

function checkAddress(f: SpecFields, address: string): void {
  if (address === "") f.error("address", "must not be empty");
  else if (address.startsWith("unix://")) {
    const socket = address.slice("unix://".length);
    if (socket === "") f.error("address", "expected a socket path after unix://");
    else if (!socket.startsWith("@") && (!socket.startsWith("/") || socket.endsWith("/")))
      f.error(
        "address",
        `expected an absolute path to a socket file or an abstract socket (@name) after unix://, got ${describe(address)}`,
      );
  } else if (isIP(address) === 0) checkHost(f.ctx, f.at("address"), address, false);
}
