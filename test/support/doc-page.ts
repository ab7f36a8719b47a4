// A documentation page's worked examples, run as a reader runs them: the page's `sh` blocks as one bash script,
// with `trellis` on PATH (a two-line wrapper around this checkout's bin/trellis.js: the one substitution every
// example needs), in a fresh directory, every process the script starts stopped when it ends (the script runs in
// a process group of its own, killed whole afterwards).

import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const TRELLIS = fileURLToPath(new URL("../../bin/trellis.js", import.meta.url));

/** The body of each fenced block whose info string is `info`, in order. */
export function blocks(markdown: string, info: string): string[] {
  const out: string[] = [];
  const fence = /^```(\S*)[^\n]*\n([\s\S]*?)^```$/gm;
  for (let m = fence.exec(markdown); m !== null; m = fence.exec(markdown)) if (m[1] === info) out.push(m[2]!);
  return out;
}

/** The text of the section that starts with the heading line `heading` (up to the next heading of its level or above). */
export function section(markdown: string, heading: string): string {
  const lines = markdown.split("\n");
  const start = lines.indexOf(heading);
  if (start < 0) throw new Error(`no heading "${heading}" on the page`);
  const level = /^#+/.exec(heading)![0].length;
  let end = start + 1;
  for (; end < lines.length; end++) {
    const m = /^(#+) /.exec(lines[end]!);
    if (m !== null && m[1]!.length <= level && !insideFence(lines, end)) break;
  }
  return lines.slice(start, end).join("\n");
}

function insideFence(lines: string[], index: number): boolean {
  let open = false;
  for (let i = 0; i < index; i++) if (lines[i]!.startsWith("```")) open = !open;
  return open;
}

export interface PageRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Everything the script wrote, for an assertion's message. */
  context: string;
}

/**
 * Runs `script` under `set -euo pipefail` in a fresh directory (with `files` written there first), `trellis` on
 * PATH. Killed after `timeoutMs`. The whole process group is sent SIGTERM when the script ends, SIGKILL 3 s later.
 */
export async function runPageScript(
  script: string,
  options: {
    env?: Record<string, string>;
    files?: Record<string, string>;
    timeoutMs?: number;
    /** A command that runs bash, e.g. `nsenter --net=… --` to run the script in a network namespace. */
    prefix?: string[];
    /** How long what the script left running has between SIGTERM and SIGKILL (default 3 s). */
    stopMs?: number;
  } = {},
): Promise<PageRun> {
  const dir = mkdtempSync(join(tmpdir(), "trellis-doc-page-"));
  const bin = join(dir, ".bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "trellis"),
    `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(TRELLIS)} "$@"\n`,
  );
  chmodSync(join(bin, "trellis"), 0o755);
  const work = join(dir, "work");
  mkdirSync(work);
  for (const [name, text] of Object.entries(options.files ?? {})) writeFileSync(join(work, name), text);
  const command = [...(options.prefix ?? []), "bash", "-c", `set -euo pipefail\n${script}`];
  const child = spawn(command[0]!, command.slice(1), {
    cwd: work,
    env: { ...process.env, ...options.env, PATH: `${bin}:${process.env.PATH ?? ""}` },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const killGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  const timer = setTimeout(() => killGroup("SIGKILL"), options.timeoutMs ?? 150_000);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  clearTimeout(timer);
  // What the script left running in the background (the control plane, services, gateways): stopped as a
  // terminal's Ctrl-C would, then killed.
  killGroup("SIGTERM");
  await new Promise((r) => setTimeout(r, options.stopMs ?? 3000));
  killGroup("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  const context = `exit ${code}\n--- stdout\n${stdout}\n--- stderr (last 4000)\n${stderr.slice(-4000)}`;
  return { code, stdout, stderr, context };
}
