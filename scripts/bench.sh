#!/usr/bin/env bash
# `npm run bench`: the two-hop proxy benchmark of PERFORMANCE.md (direct, nginx, HAProxy and Trellis chains, and
# the chain `trellis run --transparent` builds, with trellis run's start time).
# Options: --reps N (default 5), --duration S (default 10), --quick (1 × 3 s smoke run), --only ROW,...
# Writes bench/results/proxy.md and proxy.json. Uses both cores fully for minutes: run it on an otherwise idle
# machine. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
# The trellis-transparent row (root on Linux only; skipped elsewhere, with the reason in the report) also needs
# iproute2, iptables, util-linux (nsenter, setpriv) and curl (its readiness probe).
transparent=()
if [ "$(uname)" = Linux ] && [ "$(id -u)" = 0 ]; then transparent=(iproute2 iptables util-linux curl); fi
bash scripts/setup.sh nginx haproxy wrk nghttp2-client "${transparent[@]}"
exec node --import tsx bench/proxy/main.ts "$@"
