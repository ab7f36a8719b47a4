// `trellis analyze --offline -f`: the files alone — Istio's analyzers, plus what translation would leave out and
// what is stored but not enforced, for a representative sidecar per namespace the files name.

import { offlineFindings } from "../problem-report.ts";
import { analyzeFiles, type AnalysisFile, type AnalysisReport } from "./files.ts";

export function analyzeOffline(files: readonly AnalysisFile[]): AnalysisReport {
  return analyzeFiles(files, (resources) => offlineFindings(resources));
}
