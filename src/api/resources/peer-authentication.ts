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
  const portLevel = f.entries("portLevelMtls");
  // Istio: `portLevelMtls: {}` is a mistake, not "no port-level settings".
  if (f.has("portLevelMtls") && portLevel.length === 0 && typeof f.raw("portLevelMtls") === "object")
    f.error("portLevelMtls", "expected at least one port (leave portLevelMtls out for none)");
  for (const entry of portLevel) {
    const port = Number(entry.key);
    if (!Number.isInteger(port) || port < 1 || port > MAX_PORT) {
      ctx.error(entry.path, `expected a port number 1-65535 as the key, got ${describe(entry.key)}`);
      continue;
    }
    spec.portLevelMtls[port] = { mode: readMode(SpecFields.open(ctx, entry.value, entry.path, { known: ["mode"] })) };
  }
  // Istio: a selector without labels is the namespace's policy, and those cannot set ports either.
  const selects = spec.selector !== undefined && Object.keys(spec.selector.matchLabels).length > 0;
  if (Object.keys(spec.portLevelMtls).length > 0 && !selects) {
    f.error(
      "portLevelMtls",
      "needs a selector with labels (Istio applies port-level settings only to selected workloads)",
    );
  }
  return spec;
}

function readMode(f: SpecFields): MutualTlsMode {
  return f.enumValue("mode", MODES) ?? "UNSET";
}
