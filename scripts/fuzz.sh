#!/usr/bin/env bash
# `npm run fuzz`: every seeded fuzzer (test/fuzz/*.test.ts and any test that reads FUZZ_SEED), run longer than
# `npm test` runs them and with a fresh seed. Not part of `npm test`.
#   FUZZ_SEED=<n>         the seed (default: random); printed, so a failing run can be replayed
#   FUZZ_SCALE=<n>        multiplies every fuzzer's iteration count (default 20; `npm test` runs them at 1)
#   FUZZ_TIME_LIMIT=<s>   the whole run's bound in seconds (default 600); past it the run is stopped and fails
set -euo pipefail
cd "$(dirname "$0")/.."

seed="${FUZZ_SEED:-$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')}"
scale="${FUZZ_SCALE:-20}"
limit="${FUZZ_TIME_LIMIT:-600}"
[[ "$seed" =~ ^[0-9]+$ ]] || { echo "FUZZ_SEED expects a number, got \"$seed\"" >&2; exit 2; }
[[ "$scale" =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_SCALE expects a whole number ≥ 1, got \"$scale\"" >&2; exit 2; }
[[ "$limit" =~ ^[1-9][0-9]*$ ]] || { echo "FUZZ_TIME_LIMIT expects seconds ≥ 1, got \"$limit\"" >&2; exit 2; }
export FUZZ_SEED="$seed" FUZZ_SCALE="$scale"

mapfile -t files < <({ ls test/fuzz/*.test.ts; grep -rl --include='*.test.ts' FUZZ_SEED src test; } | sort -u)
echo "== fuzz: FUZZ_SEED=$seed FUZZ_SCALE=$scale, at most ${limit}s"
echo "   replay: FUZZ_SEED=$seed FUZZ_SCALE=$scale npm run fuzz"
printf '   %s\n' "${files[@]}"
status=0
timeout --kill-after=10 "$limit" \
  node --import tsx --test --test-concurrency=1 --test-timeout=$((limit * 1000)) "${files[@]}" || status=$?
if [[ $status -eq 124 || $status -eq 137 ]]; then
  echo "== fuzz: stopped at the ${limit}s limit (a fuzzer hung, or FUZZ_SCALE is too large for the limit)" >&2
fi
echo "== fuzz: exit $status (FUZZ_SEED=$seed FUZZ_SCALE=$scale)"
exit "$status"
