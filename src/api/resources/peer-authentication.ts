// PeerAuthentication (security.istio.io): whether a workload's inbound traffic must be mutual TLS.

import type { MutualTlsMode, PeerAuthenticationSpec } from "./types.ts";
import type { ResourceContext } from "./context.ts";
import { SpecFields } from "./fields.ts";
import { readLabelSelector, MAX_PORT } from "./common.ts";
import { describe } from "../xds/parse/context.ts";

const MODES = ["UNSET", "DISABLE", "PERMISSIVE", "STRICT"] as const;

export function readPeerAuthenticationSpec(ctx: ResourceContext, raw: unknown, path: string): PeerAuthenticationSpec {
  const f = SpecFields.open(ctx, raw, path, { known: ["selector", "mtls", "portLevelMtls"] });
  const spec: PeerAuthenticationSpec = { portLevelMtls: {} };
  if (f.has("selector")) spec.selector = readLabelSelector(ctx, f.raw("selector"), f.at("selector"));
  if (f.has("mtls")) spec.mtls = { mode: readMode(f.message("mtls", { known: ["mode"] })) };
  for (const entry of f.entries("portLevelMtls")) {
    const port = Number(entry.key);
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
      ctx.error(entry.path, `expected a port number 1-65535 as the key, got ${describe(entry.key)}`);
      continue;
    }
    spec.portLevelMtls[port] = { mode: readMode(SpecFields.open(ctx, entry.value, entry.path, { known: ["mode"] })) };
  }
  if (Object.keys(spec.portLevelMtls).length > 0 && spec.selector === undefined) {
    f.error("portLevelMtls", "needs a selector (Istio applies port-level settings only to selected workloads)");
  }
  return spec;
}

function readMode(f: SpecFields): MutualTlsMode {
  return f.enumValue("mode", MODES) ?? "UNSET";
}
