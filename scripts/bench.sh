#!/usr/bin/env bash
# `npm run bench`: the two-hop proxy benchmark of PERFORMANCE.md (direct, nginx, HAProxy and Trellis chains).
# Options: --reps N (default 5), --duration S (default 10), --quick (1 × 3 s smoke run), --only ROW,...
# Writes bench/results/proxy.md and proxy.json. Uses both cores fully for minutes: run it on an otherwise idle
# machine. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh nginx haproxy wrk nghttp2-client
exec node --import tsx bench/proxy/main.ts "$@"
