#!/usr/bin/env bash
# `npm run demo`: set up what is needed, then run `trellis demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node bin/trellis.js demo "$@"
