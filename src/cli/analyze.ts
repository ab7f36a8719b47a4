// `trellis analyze [-f FILE|DIR|-]… [--offline]`: Istio's analyzers (control/analyze/). With files and --offline,
// only the files are read (no control plane needed); otherwise the files are checked together with what the
// running mesh has (its resources and its services). A directory is read recursively, as istioctl does.

import { TrellisError } from "../api/errors.ts";
import type { Finding } from "../control/analyze/messages.ts";
import { analyzeOffline } from "../control/analyze/offline.ts";
import { renderReport } from "./analyze-report.ts";
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
    files = (values.filename ?? []).flatMap((f) => readInputs(f, undefined, { recursive: true }));
  } catch (err) {
    process.stderr.write(`trellis analyze: ${(err as Error).message}\n`);
    return 1;
  }
  let findings: Finding[];
  let notices: string[] = [];
  try {
    if (values.offline) {
      ({ findings, notices } = analyzeOffline(files));
    } else {
      const reply = await callControl("POST", "/api/v1/analyze", { files });
      if (reportErrors("analyze", reply) !== 0) return 1;
      findings = (reply.json.findings as Finding[]) ?? [];
      notices = (reply.json.notices as string[]) ?? [];
    }
  } catch (err) {
    if (err instanceof TrellisError) {
      process.stderr.write(`trellis analyze: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const report = renderReport(findings, notices);
  process.stderr.write(report.stderr);
  process.stdout.write(report.stdout);
  return report.exitCode;
}
