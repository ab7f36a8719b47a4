#!/usr/bin/env bash
# Shared set-up for `npm test`, `npm run demo` and `npm run bench`: installs npm packages when node_modules is
# missing or older than the lock file, and the Debian packages named in $1.. when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# A node_modules that is a symlink (a git worktree sharing another checkout's packages) is left alone: npm ci
# would empty the directory it points to.
if [ -L node_modules ]; then
  :
elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these Debian packages are needed: ${missing[*]}" >&2
    echo "setup: run as root, or: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi
