// `trellis apply -f FILE|DIR|- [--dry-run]`: validates every document of every file on the control plane and
// stores them all, or none: a bad resource is reported with its file, document, field path and expectation.

import { TrellisError } from "../api/errors.ts";
import { displayKind } from "./kinds.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { readInputs, type NamedText } from "./files.ts";

interface ApplyResult {
  kind: string;
  namespace: string;
  name: string;
  action: string;
}

/** The options main.ts's commander parses for this verb. */
export interface ApplyOptions {
  filename?: string[];
  dryRun?: boolean;
}

export async function runApply(values: ApplyOptions): Promise<number> {
  if (!values.filename || values.filename.length === 0) {
    process.stderr.write("trellis apply: -f FILE|DIR|- is required\n");
    return 2;
  }
  let files: NamedText[];
  try {
    files = values.filename.flatMap((f) => readInputs(f));
  } catch (err) {
    process.stderr.write(`trellis apply: ${(err as Error).message}\n`);
    return 1;
  }
  if (files.length === 0) {
    process.stderr.write("trellis apply: no .yaml, .yml or .json files found\n");
    return 1;
  }
  try {
    const reply = await callControl("POST", "/api/v1/apply", { files, dryRun: values.dryRun === true });
    for (const w of (reply.json.warnings as string[] | undefined) ?? []) process.stderr.write(`Warning: ${w}\n`);
    const failed = reportErrors("apply", reply);
    if (failed !== 0) return failed;
    const suffix = values.dryRun ? " (dry run)" : "";
    for (const r of (reply.json.results as ApplyResult[] | undefined) ?? [])
      process.stdout.write(`${displayKind(r.kind)}/${r.name} (${r.namespace}) ${r.action}${suffix}\n`);
    return 0;
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis apply: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
