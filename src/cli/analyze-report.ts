// How `trellis analyze` prints what it found, as istioctl does:
//   Error [IST0101] (VirtualService default/reviews bookinfo.yaml:12) Referenced host not found: "ratings"
// one line per finding, sorted by file and line; "✔ No validation issues found." when there is nothing. Notices
// (Kubernetes objects set aside) go to standard error. The exit status is 1 when any finding is an Error.

import type { Finding } from "../control/analyze/messages.ts";

/** `(Kind namespace/name file:line)` — the parts that are known. */
export function formatFinding(f: Finding): string {
  const slash = f.resource.indexOf("/");
  const resource = slash < 0 ? f.resource : `${f.resource.slice(0, slash)} ${f.resource.slice(slash + 1)}`;
  const where = f.file === undefined ? "" : f.line === undefined ? f.file : `${f.file}:${f.line}`;
  const origin = [resource, where].filter((s) => s !== "").join(" ");
  return `${f.level} [${f.code}]${origin === "" ? "" : ` (${origin})`} ${f.message}`;
}

export interface ReportOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export function renderReport(findings: readonly Finding[], notices: readonly string[] = []): ReportOutput {
  const stderr = notices.map((n) => `notice: ${n}\n`).join("");
  if (findings.length === 0) return { stdout: "✔ No validation issues found when analyzing.\n", stderr, exitCode: 0 };
  return {
    stdout: findings.map((f) => `${formatFinding(f)}\n`).join(""),
    stderr,
    exitCode: findings.some((f) => f.level === "Error") ? 1 : 0,
  };
}
