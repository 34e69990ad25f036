#!/usr/bin/env bash
# `npm ci`, skipped when node_modules already is this lockfile's complete install for this Node and npm: the stamp is
# written only after a whole npm ci succeeded, so a broken or partial install is redone. The README's two commands
# (and .ci/run, which runs both) would otherwise reinstall, and rebuild zstd-napi's binding, each time.
set -euo pipefail
cd "$(dirname "$0")/.."
want="$(cat package.json package-lock.json | sha256sum | cut -c1-64) node $(node --version) npm $(npm --version)"
stamp=node_modules/.plait-npm-ci
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && node -e 'require("zstd-napi")' 2>/dev/null; then
  echo "npm: node_modules is package-lock.json's install for node $(node --version); npm ci skipped"
  exit 0
fi
npm ci --no-audit --no-fund
echo "$want" > "$stamp"
