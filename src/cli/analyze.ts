// `trellis analyze [-f FILE|DIR|-]… [--offline]`: cross-resource problems, each explained. With files and
// --offline, only the files are read (no control plane needed); otherwise the files are checked together with what
// the running mesh has (its resources and its services).

import { TrellisError } from "../api/errors.ts";
import { loadResources } from "../api/resources/load.ts";
import type { Resource } from "../api/resources/types.ts";
import { analyze, type Finding } from "../control/analyze/analyze.ts";
import { callControl, reportErrors } from "./control-client.ts";
import { readInputs, type NamedText } from "./files.ts";

/** The options main.ts's commander parses for this verb. */
export interface AnalyzeOptions {
  filename?: string[];
  offline?: boolean;
}

export async function runAnalyze(values: AnalyzeOptions): Promise<number> {
  let files: NamedText[] = [];
  try {
    files = (values.filename ?? []).flatMap((f) => readInputs(f));
  } catch (err) {
    process.stderr.write(`trellis analyze: ${(err as Error).message}\n`);
    return 1;
  }
  let findings: Finding[];
  try {
    if (values.offline) {
      const resources: Resource[] = [];
      for (const f of files) resources.push(...loadResources(f.content, f.name).resources);
      findings = analyze({ resources });
    } else {
      const reply = await callControl("POST", "/api/v1/analyze", { files });
      if (reportErrors("analyze", reply) !== 0) return 1;
      findings = (reply.json.findings as Finding[]) ?? [];
    }
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis analyze: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  if (findings.length === 0) {
    process.stdout.write("✔ No problems found.\n");
    return 0;
  }
  for (const f of findings) process.stdout.write(`${f.severity} [${f.code}] (${f.resource}) ${f.message}\n`);
  return findings.some((f) => f.severity === "Error") ? 1 : 0;
}
