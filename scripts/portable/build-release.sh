#!/usr/bin/env bash
# pnpm run build:release — the published linux binaries: builds dlf.node for linux-x64 and
# linux-arm64 inside a Debian 11 (bullseye, glibc 2.31, GCC 10, CMake 3.18) root, so they run on
# glibc >= 2.31, with libstdc++ and libgcc linked in; checks their GLIBC_ symbol versions and stages
# them into npm/linux-x64-gnu and npm/linux-arm64-gnu. Needs root and debootstrap; the root is kept
# in $DLF_ROOTS (default /var/tmp/dlf-roots). The host's node is bind-mounted into the root to run
# cmake-js (official Node 20 builds need glibc 2.28).
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

chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp bash -euo pipefail -c '
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
