// Command-line options of `npm run bench`: --reps N, --duration S, --quick, --only row,row.
import { BASELINE_OF, ROW_NAMES } from "./chains.ts";
import type { RowName } from "./chains.ts";
import type { RunOptions } from "./results.ts";

export class OptionsError extends Error {
  readonly code = "BAD_OPTION";
  constructor(message: string) {
    super(message);
    this.name = "OptionsError";
  }
}

/** The rows a run has unless --only says otherwise: the baseline rows need --baseline. */
const DEFAULT_ROWS = ROW_NAMES.filter((r) => BASELINE_OF[r] === undefined);

export const USAGE = `usage: npm run bench -- [--reps N] [--duration S] [--quick] [--only ROW,...] [--baseline REF]
  --reps N       repetitions, interleaved across rows (default 5)
  --duration S   seconds per load run (default 10)
  --quick        smoke run: 1 repetition of 3 s (figures are not comparable)
  --only ROWS    comma-separated subset of: ${DEFAULT_ROWS.join(", ")}
                 (direct is added when an HTTP/1.1 proxy row is chosen: it is the latency baseline; trellis
                 with trellis-policy or trellis-transparent, which are compared with it)
                 trellis-transparent (root, Linux) also measures trellis run's start time, N = --reps (≥ 3)
  --baseline REF also runs the trellis and trellis-policy chains from a checkout of the git commit REF (e.g.
                 main, HEAD~3), each right after this tree's in every repetition, and reports this tree's
                 figures against the baseline's paired per repetition: before/after in one run`;

function positiveInteger(flag: string, value: string | undefined): number {
  const n = Number(value);
  if (value === undefined || !Number.isInteger(n) || n < 1) {
    throw new OptionsError(`${flag} needs a positive integer, got ${value ?? "nothing"}`);
  }
  return n;
}

/** Parses the arguments; later flags win, and --quick sets reps and duration unless they are given explicitly. */
export function parseOptions(argv: readonly string[]): RunOptions {
  let reps: number | undefined;
  let duration: number | undefined;
  let quick = false;
  let rows: RowName[] = [...DEFAULT_ROWS];
  let baseline: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] = arg.includes("=") ? (arg.split("=", 2) as [string, string]) : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case "--reps":
        reps = positiveInteger(flag, value());
        break;
      case "--duration":
        duration = positiveInteger(flag, value());
        break;
      case "--quick":
        quick = true;
        break;
      case "--only": {
        const list = (value() ?? "")
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        const unknown = list.filter((s) => !(DEFAULT_ROWS as readonly string[]).includes(s));
        if (list.length === 0 || unknown.length > 0) {
          throw new OptionsError(`--only: unknown row(s) ${unknown.join(", ") || "(none given)"}`);
        }
        rows = list as RowName[];
        break;
      }
      case "--baseline": {
        const ref = value();
        if (ref === undefined || ref === "" || ref.startsWith("-"))
          throw new OptionsError(`--baseline needs a git commit (a branch, tag or hash), got ${ref ?? "nothing"}`);
        baseline = ref;
        break;
      }
      default:
        throw new OptionsError(`unknown argument ${arg}`);
    }
  }
  // The policy row is judged against the plain Trellis chain of the same repetition.
  if (rows.includes("trellis-policy") && !rows.includes("trellis")) rows = [...rows, "trellis"];
  // So is the transparent chain (trellis run --transparent): capture's cost is read against the bootstrap chain.
  if (rows.includes("trellis-transparent") && !rows.includes("trellis")) rows = [...rows, "trellis"];
  // The baseline's chains run beside this tree's plain and policy chains (whichever the run has).
  if (baseline !== undefined) {
    const pairs = Object.entries(BASELINE_OF) as [RowName, RowName][];
    if (!pairs.some(([, of]) => rows.includes(of)))
      throw new OptionsError("--baseline compares the trellis and trellis-policy rows: --only names neither");
    for (const [row, of] of pairs) if (rows.includes(of) && !rows.includes(row)) rows = [...rows, row];
  }
  const needsBaseline = rows.some((r) => r === "nginx" || r === "haproxy" || r === "trellis");
  if (needsBaseline && !rows.includes("direct")) rows = ["direct", ...rows];
  // Keep the canonical order whatever order --only named them in: interleaving is then the same in every run.
  rows = ROW_NAMES.filter((r) => rows.includes(r));
  return {
    reps: reps ?? (quick ? 1 : 5),
    durationSeconds: duration ?? (quick ? 3 : 10),
    warmupSeconds: 1,
    latencyRate: 1000,
    quick,
    rows,
    ...(baseline === undefined ? {} : { baseline }),
  };
}
