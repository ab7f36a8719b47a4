// The CLI as its tests run it: `main()` in this process, with what it writes to stdout and stderr captured (and
// not shown). $TRELLIS_CONTROL can be set for the one call.

import { main } from "../../src/cli/main.ts";

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(args: string[], env: { TRELLIS_CONTROL?: string } = {}): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  const saved = process.env.TRELLIS_CONTROL;
  // Only the CLI's own writes are captured (its verbs and commander's help and errors): the test runner writes its
  // report to the same stdout meanwhile (a test file's child process reports to node --test through it).
  const capture =
    (into: string[], real: typeof process.stdout.write) =>
    (chunk: string | Uint8Array, ...rest: unknown[]): boolean => {
      const from = new Error().stack ?? "";
      if (!/[/\\]src[/\\]cli[/\\]|[/\\]commander[/\\]/.test(from))
        return (real as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      into.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString());
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return true;
    };
  process.stdout.write = capture(out, realOut) as typeof process.stdout.write;
  process.stderr.write = capture(err, realErr) as typeof process.stderr.write;
  if (env.TRELLIS_CONTROL !== undefined) process.env.TRELLIS_CONTROL = env.TRELLIS_CONTROL;
  try {
    const code = await main(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    if (env.TRELLIS_CONTROL !== undefined) {
      if (saved === undefined) delete process.env.TRELLIS_CONTROL;
      else process.env.TRELLIS_CONTROL = saved;
    }
  }
}
