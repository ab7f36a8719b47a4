// How long the seeded fuzzers run. `npm test` runs each at its base count (scale 1); `npm run fuzz`
// (scripts/fuzz.sh) sets FUZZ_SCALE to multiply every fuzzer's iteration count, and FUZZ_SEED to explore seeds
// other than the fixed ones. Both are printed by the fuzzers, so a failure can be replayed.

/** FUZZ_SCALE as a whole number ≥ 1 (default 1); anything else is refused rather than silently ignored. */
export function fuzzScale(): number {
  const raw = process.env.FUZZ_SCALE;
  if (raw === undefined || raw === "") return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`FUZZ_SCALE expects a whole number ≥ 1, got "${raw}"`);
  return n;
}

export const FUZZ_SCALE = fuzzScale();
