#!/usr/bin/env bash
# pnpm run build:release — the published linux binaries, built inside a Debian 11 (bullseye, glibc
# 2.31, GCC 10, CMake 3.18) root so they run on glibc >= 2.31:
#   native       dlf.node for linux-x64 and linux-arm64, libstdc++ and libgcc linked in, staged into
#                npm/linux-x64-gnu and npm/linux-arm64-gnu;
#   distributed  dlf_distributed.node for linux-x64 against Debian 11's Gloo, with libgloo and its
#                libraries (hiredis, ibverbs, libnl) beside it under run path $ORIGIN, staged into
#                npm/distributed-linux-x64-gnu. Gloo's packages are downloaded and unpacked into
#                /opt/dlf-gloo inside the root, not installed, so the root itself has no libgloo.
# Usage: build-release.sh [native] [distributed]   (default: both). Every binary's GLIBC_ symbol
# versions are checked. Needs root and debootstrap; the root is kept in $DLF_ROOTS (default
# /var/tmp/dlf-roots). The host's node is bind-mounted into the root to run cmake-js (official Node 20
# builds need glibc 2.28).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
roots=${DLF_ROOTS:-/var/tmp/dlf-roots}
root=$roots/bullseye-amd64
mkdir -p "$roots"
bash "$repo/scripts/portable/debian-root.sh" "$root" bullseye amd64 g++,make,cmake,g++-aarch64-linux-gnu,binutils

mounts=()
bind() { if [ -f "$1" ]; then [ -f "$2" ] || touch "$2"; else mkdir -p "$2"; fi; mount --bind "$1" "$2"; mounts+=("$2"); }
cleanup() { for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" || true; done; }
trap cleanup EXIT
bind "$repo" "$root/dlf"
bind "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounts+=("$root/proc"); }

parts=${*:-native distributed}
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp bash -euo pipefail -c "$1"; }

if [[ " $parts " == *" native "* ]]; then
in_root '
  cd /dlf/packages/native
  ldd --version | sed -n 1p; g++ --version | sed -n 1p; cmake --version | sed -n 1p
  cmake_js="node node_modules/cmake-js/bin/cmake-js compile --parallel 2"
  $cmake_js --out build-release-x64 >/tmp/build-x64.log 2>&1 || { tail -30 /tmp/build-x64.log; exit 1; }
  $cmake_js --out build-release-arm64 --CDCMAKE_TOOLCHAIN_FILE=/dlf/packages/native/cmake/aarch64-linux-gnu.cmake \
    >/tmp/build-arm64.log 2>&1 || { tail -30 /tmp/build-arm64.log; exit 1; }
'
cd "$repo/packages/native"
for arch in x64 arm64; do
  binary=build-release-$arch/Release/dlf.node
  echo "$binary: $(readelf -h "$binary" | sed -n 's/^ *Machine: *//p')"
  node scripts/check-glibc.mjs "$binary"
  node scripts/stage-binary.mjs "$binary" "linux-$arch-gnu"
done
fi

if [[ " $parts " == *" distributed "* ]]; then
gloo=/opt/dlf-gloo
in_root '
  gloo='"$gloo"'
  if [ ! -f $gloo/.unpacked ]; then
    rm -rf $gloo /tmp/dlf-gloo-debs && mkdir -p /tmp/dlf-gloo-debs && cd /tmp/dlf-gloo-debs
    apt-get -q update >/dev/null
    apt-get -q download libgloo-dev libgloo0 libhiredis0.14 libibverbs1 libnl-3-200 libnl-route-3-200 2>&1 |
      grep -v "^W: Download is performed unsandboxed" || true
    for deb in *.deb; do dpkg-deb -x "$deb" $gloo; done
    touch $gloo/.unpacked
  fi
  cd /dlf/packages/distributed
  node node_modules/cmake-js/bin/cmake-js compile --out build-release-x64 --parallel 2 --CDDLF_GLOO_ROOT=$gloo \
    >/tmp/build-distributed-x64.log 2>&1 || { tail -30 /tmp/build-distributed-x64.log; exit 1; }
'
cd "$repo/packages/distributed"
release=build-release-x64/Release
# Bundled on this side, against the root's unpacked libraries (and with patchelf, when here).
DLF_GLOO_LIBRARY_PATH="$root$gloo/usr/lib:$root$gloo/usr/lib/x86_64-linux-gnu:$root$gloo/lib/x86_64-linux-gnu" \
  node scripts/bundle-libs.mjs "$release"
node ../native/scripts/check-glibc.mjs "$release"/dlf_distributed.node "$release"/*.so.*
node scripts/stage-binary.mjs "$release" linux-x64-gnu "$root$gloo"
fi
