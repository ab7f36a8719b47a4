// The real CLI in-process: `main(argv)` with $TRELLIS_CONTROL set and its stdout and stderr captured, for tests
// that run the control plane in the same process (no bundle, no child process).

import { main } from "../../src/cli/main.ts";

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `trellis ARGS…` against the control plane at `control`; one run at a time (stdout is the process's). */
export async function runCli(control: string, ...args: string[]): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const stdout = process.stdout.write.bind(process.stdout);
  const stderr = process.stderr.write.bind(process.stderr);
  const previous = process.env.TRELLIS_CONTROL;
  process.env.TRELLIS_CONTROL = control;
  // The CLI writes strings; the test runner reports through the same stream in binary, which passes through.
  const capture =
    (into: string[], original: typeof stdout): typeof stdout =>
    (chunk: string | Uint8Array, ...rest: unknown[]) => {
      if (typeof chunk !== "string") return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
      into.push(chunk);
      return true;
    };
  process.stdout.write = capture(out, stdout);
  process.stderr.write = capture(err, stderr);
  try {
    const code = await main(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = stdout;
    process.stderr.write = stderr;
    if (previous === undefined) delete process.env.TRELLIS_CONTROL;
    else process.env.TRELLIS_CONTROL = previous;
  }
}
