// `trellis get KIND [NAME] [-n NAMESPACE | -A] [-o yaml|json]`: resources as stored, kubectl's way; `get workloads`
// lists the registered instances (workloads.ts).

import { stringify } from "yaml";
import { TrellisError } from "../api/errors.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { kindOf, knownKinds } from "./kinds.ts";
import { table } from "./table.ts";
import { isWorkloads, runGetWorkloads } from "./workloads.ts";

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
  const kind = kindOf(typed);
  if (kind === undefined) {
    process.stderr.write(`trellis get: expected a kind: ${knownKinds()}; or workloads (workload, wl)\n`);
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
