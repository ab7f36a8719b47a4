// `trellis get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json]`: resources as stored, kubectl's way; `get workloads`
// lists the registered instances (workloads.ts); `get meshconfig [-o yaml|json]`: the MeshConfig the control plane
// runs with (docs/mesh-config.md).

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { kindOf, knownKinds } from "./kinds.ts";
import { table } from "./table.ts";
import { isWorkloads, runGetWorkloads } from "./workloads.ts";
import { isSecrets, runGetSecrets } from "./secret.ts";

interface Stored {
  kind: string;
  metadata: { name: string; namespace: string; creationTimestamp?: string; resourceVersion?: string };
}

/** The options main.ts's commander parses for this verb. */
export interface GetOptions {
  namespace?: string;
  allNamespaces?: boolean;
  output?: "yaml" | "json";
}

export async function runGet(typed: string, name: string | undefined, options: GetOptions): Promise<number> {
  if (isWorkloads(typed)) return runGetWorkloads(name, options);
  if (isSecrets(typed)) return runGetSecrets(name, options);
  if (MESH_CONFIG_NAMES.includes(typed.toLowerCase())) return getMeshConfig(options.output ?? "yaml");
  const kind = kindOf(typed);
  if (kind === undefined) {
    process.stderr.write(
      `trellis get: expected a kind: ${knownKinds()}; or workloads (workload, wl), secrets, or meshconfig\n`,
    );
    return 2;
  }
  const output = options.output ?? "table";
  const namespace = options.allNamespaces ? undefined : (options.namespace ?? "default");
  try {
    let items: Stored[];
    if (name !== undefined) {
      const reply = await callControl("GET", `/api/v1/resources/${kind}/${namespace ?? "default"}/${name}`);
      if (reportErrors("get", reply) !== 0) return 1;
      items = [reply.json as unknown as Stored];
    } else {
      const query = new URLSearchParams({ kind, ...(namespace ? { namespace } : {}) });
      const reply = await callControl("GET", `/api/v1/resources?${query}`);
      if (reportErrors("get", reply) !== 0) return 1;
      items = (reply.json.items as Stored[]) ?? [];
    }
    process.stdout.write(render(items, output, name !== undefined));
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis get: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function render(items: Stored[], output: string, single: boolean): string {
  if (output === "json") return `${JSON.stringify(single ? items[0] : { items }, null, 2)}\n`;
  if (output === "yaml") return items.map((i) => stringify(i)).join("---\n");
  if (items.length === 0) return "No resources found.\n";
  return table(
    ["NAMESPACE", "NAME", "VERSION"],
    items.map((i) => [i.metadata.namespace, i.metadata.name, i.metadata.resourceVersion ?? ""]),
  );
}

const MESH_CONFIG_NAMES = ["meshconfig", "mesh-config", "meshconfigs"];

interface MeshConfigView {
  file: string | null;
  meshConfig: Record<string, unknown>;
  findings: { level: string; code: string; message: string }[];
  refused?: { message: string };
}

/**
 * The MeshConfig in force, as YAML (Istio's spelling; its findings — fields stored but not enforced yet, warnings,
 * a refused newer version — as comments on top, so the output still loads) or as the API's JSON.
 */
async function getMeshConfig(output: string): Promise<number> {
  if (output !== "yaml" && output !== "json") {
    process.stderr.write(`trellis get: -o expects yaml or json, got "${output}"\n`);
    return 2;
  }
  try {
    const reply = await callControl("GET", "/api/v1/meshconfig");
    if (reportErrors("get", reply) !== 0) return 1;
    const view = reply.json as unknown as MeshConfigView;
    if (output === "json") {
      process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      return 0;
    }
    const comments = [`# MeshConfig from ${view.file ?? "Istio's defaults (trellis up without --mesh-config)"}`];
    for (const f of view.findings) comments.push(`# ${f.level} [${f.code}] ${f.message}`);
    if (view.refused !== undefined) {
      comments.push("# A newer version of the file was refused; this is the last good one:");
      for (const line of view.refused.message.split("\n")) comments.push(`#   ${line}`);
    }
    process.stdout.write(`${comments.join("\n")}\n${stringify(view.meshConfig)}`);
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis get: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
