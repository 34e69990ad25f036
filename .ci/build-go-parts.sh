#!/usr/bin/env bash
# Builds the Go-made real parts the lab and the bench talk to (a kube-apiserver with etcd and kubectl, helm, the
# registry peers and distribution v3) from their Go modules, into a cache outside the repo keyed by version. What is
# already there is skipped, so a warm run costs a few stat calls. Nothing built here is ever committed.
#
#   bash .ci/build-go-parts.sh [NAME ...]     # default: every part; NAME is one of the keys below
#
# The cache is $PLAIT_LAB_CACHE (default ~/.cache/plait-lab); each part lands in $CACHE/<name>-<version>/<name> and a
# link $CACHE/bin/<name> points at the version this script pins. The test lab and the bench read $CACHE/bin.
set -euo pipefail

CACHE="${PLAIT_LAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/plait-lab}"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false
mkdir -p "$CACHE/bin"

K8S=v1.36.3            # kube-apiserver and kubectl; its staging modules are published as v0.36.3
ETCD=v3.6.16
HELM=v3.22.0
DISTRIBUTION=v3.0.0
CRANE=v0.22.1
REGCLIENT=v0.11.5
ORAS=v1.3.6
MANIFEST_TOOL=v2.2.1
COSIGN=v2.6.4

log() { echo "go-parts: $*" >&2; }
have() { [ -x "$CACHE/$1-$2/$1" ]; }
link() { ln -sfn "../$1-$2/$1" "$CACHE/bin/$1"; }

# go install for modules without replace directives: GOBIN is the versioned folder.
install_pkg() { # name version pkg@version [output name of go install]
  local name=$1 ver=$2 pkg=$3 built=${4:-$1}
  if have "$name" "$ver"; then link "$name" "$ver"; return; fi
  log "building $name $ver"
  local out="$CACHE/$name-$ver.tmp"
  rm -rf "$out" && mkdir -p "$out"
  # `part` runs inside an `if`, where set -e does not apply: every failure must return by hand.
  GOBIN="$out" go install -trimpath -ldflags "-s -w" "$pkg" || return 1
  [ "$built" = "$name" ] || mv "$out/$built" "$out/$name" || return 1
  rm -rf "$CACHE/$name-$ver" && mv "$out" "$CACHE/$name-$ver"
  link "$name" "$ver"
}

# k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with ./staging paths, which go install
# refuses; a throw-away wrapper module mirrors every such replace with the published v0.X.Y module.
build_k8s() { # name cmd
  local name=$1 cmd=$2
  if have "$name" "$K8S"; then link "$name" "$K8S"; return; fi
  log "building $name $K8S (wrapper module)"
  local minor stg w out
  minor=$(echo "$K8S" | cut -d. -f2); stg="v0.${K8S#v1.}"
  w="$CACHE/.wrap-k8s-$K8S"
  if [ ! -f "$w/.ready" ]; then
    rm -rf "$w" && mkdir -p "$w" && (
      cd "$w" && go mod init plait.invalid/kas >/dev/null 2>&1
      gomod=$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
      for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => \./staging/src/.*#\1#p' "$gomod"); do
        go mod edit -replace="$m=$m@$stg"
      done
      go get "k8s.io/kubernetes/cmd/kube-apiserver@$K8S" "k8s.io/kubernetes/cmd/kubectl@$K8S"
      touch .ready
    )
  fi
  out="$CACHE/$name-$K8S.tmp"; rm -rf "$out" && mkdir -p "$out"
  (cd "$w" && go build -trimpath -o "$out/$name" -ldflags "-s -w \
      -X k8s.io/component-base/version.gitVersion=$K8S -X k8s.io/component-base/version.gitMajor=1 \
      -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
      "k8s.io/kubernetes/cmd/$cmd")
  rm -rf "$CACHE/$name-$K8S" && mv "$out" "$CACHE/$name-$K8S"
  link "$name" "$K8S"
}

# go install refuses a module whose version list the proxy will not serve (it reads it for deprecation notices), even
# when the exact version is served; a throw-away wrapper module with go get + go build needs only that version.
build_wrapped() { # name version cmd-package
  local name=$1 ver=$2 pkg=$3
  if have "$name" "$ver"; then link "$name" "$ver"; return; fi
  log "building $name $ver (wrapper module)"
  local w="$CACHE/.wrap-$name-$ver" out="$CACHE/$name-$ver.tmp"
  rm -rf "$w" "$out" && mkdir -p "$w" "$out"
  (cd "$w" && go mod init "plait.invalid/$name" >/dev/null 2>&1 && go get "$pkg@$ver" \
    && go build -trimpath -ldflags "-s -w" -o "$out/$name" "$pkg") || return 1
  rm -rf "$w" "$CACHE/$name-$ver" && mv "$out" "$CACHE/$name-$ver" || return 1
  link "$name" "$ver"
}

# etcd's server module is the program but carries replace directives: build it from a wrapper too.
build_etcd() {
  if have etcd "$ETCD"; then link etcd "$ETCD"; return; fi
  log "building etcd $ETCD (wrapper module)"
  local w="$CACHE/.wrap-etcd-$ETCD" out="$CACHE/etcd-$ETCD.tmp"
  rm -rf "$w" "$out" && mkdir -p "$w" "$out"
  (cd "$w" && go mod init plait.invalid/etcd >/dev/null 2>&1 && go get "go.etcd.io/etcd/server/v3@$ETCD" \
    && go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$w" "$CACHE/etcd-$ETCD" && mv "$out" "$CACHE/etcd-$ETCD"
  link etcd "$ETCD"
}

part() {
  case "$1" in
    etcd) build_etcd ;;
    kube-apiserver) build_k8s kube-apiserver kube-apiserver ;;
    kubectl) build_k8s kubectl kubectl ;;
    helm) install_pkg helm "$HELM" "helm.sh/helm/v3/cmd/helm@$HELM" ;;
    registry-v3) install_pkg registry-v3 "$DISTRIBUTION" \
        "github.com/distribution/distribution/v3/cmd/registry@$DISTRIBUTION" registry ;;
    crane) install_pkg crane "$CRANE" "github.com/google/go-containerregistry/cmd/crane@$CRANE" ;;
    regctl) install_pkg regctl "$REGCLIENT" "github.com/regclient/regclient/cmd/regctl@$REGCLIENT" ;;
    regsync) install_pkg regsync "$REGCLIENT" "github.com/regclient/regclient/cmd/regsync@$REGCLIENT" ;;
    oras) install_pkg oras "$ORAS" "oras.land/oras/cmd/oras@$ORAS" ;;
    manifest-tool) build_wrapped manifest-tool "$MANIFEST_TOOL" github.com/estesp/manifest-tool/v2/cmd/manifest-tool ;;
    cosign) install_pkg cosign "$COSIGN" "github.com/sigstore/cosign/v2/cmd/cosign@$COSIGN" ;;
    *) echo "go-parts: unknown part $1" >&2; return 2 ;;
  esac
}

ALL=(etcd kube-apiserver kubectl helm registry-v3 crane regctl regsync oras manifest-tool cosign)
if ! command -v go >/dev/null 2>&1; then echo "go-parts: no go on PATH" >&2; exit 1; fi
failed=()
for p in "${@:-${ALL[@]}}"; do
  start=$(date +%s)
  if part "$p"; then
    t=$(( $(date +%s) - start )); [ "$t" -lt 2 ] || log "$p ready in ${t}s"
  else
    failed+=("$p")
  fi
done
if [ "${#failed[@]}" -gt 0 ]; then echo "go-parts: failed: ${failed[*]}" >&2; exit 1; fi
log "all in $CACHE/bin"
