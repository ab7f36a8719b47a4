#!/usr/bin/env bash
# `npm test`: everything a change must pass — set-up, type check, lint and format check, then every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh etcd-server etcd-client curl iproute2 iptables

echo "== type check"
npx tsc --noEmit -p .
echo "== lint"
npx eslint .
npx prettier --check . >/dev/null || { npx prettier --check . ; exit 1; }
echo "== tests"
# Node 20 expands no globs itself: hand it the list. Unit tests sit beside their code; integration tests in test/.
mapfile -t files < <(find src test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-concurrency=2 --test-timeout=120000 "${files[@]}"
