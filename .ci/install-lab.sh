#!/usr/bin/env bash
# Installs the real parts the tests and benches talk to, from Debian's packages, only where missing:
# the registry (distribution 2.8), the peers (skopeo, buildah), and the tools the lab uses to set them up.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have docker-registry || [ -x /usr/bin/docker-registry ] || need+=(docker-registry)
have skopeo || need+=(skopeo)
have buildah || need+=(buildah)
have openssl || need+=(openssl)
have htpasswd || need+=(apache2-utils)
have zstd || need+=(zstd)
have gpg || need+=(gnupg)
have tar || need+=(tar)
# util-linux `script`: the progress test runs plait on a pseudo-terminal (essential on Debian, but not everywhere).
have script || need+=(bsdutils)
# The shells whose completion scripts `plait completion` generates, run by the help tests.
have zsh || need+=(zsh)
have fish || need+=(fish)
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing: ${need[*]} — run as root: apt-get update && apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# The Debian package ships a service; nothing here runs systemd, but never let a packaged registry hold a port.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl disable --now docker-registry || true
fi
echo "lab: $(/usr/bin/docker-registry --version 2>/dev/null | awk '{print $3}') | $(skopeo --version) | $(buildah --version | awk '{print $1, $2, $3}')"
