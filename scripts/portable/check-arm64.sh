#!/usr/bin/env bash
# pnpm run check:arm64 — proves the arm64 build: cross-compiles the addon with Debian's aarch64
# toolchain (packages/native/cmake/aarch64-linux-gnu.cmake), checks the result is an AArch64 ELF,
# then runs the op test table (scripts/portable/op-table.mjs) on it under qemu-user inside an arm64
# Debian trixie root (debootstrap, Debian's nodejs). Needs root, g++-aarch64-linux-gnu,
# qemu-user-static and debootstrap; the root is kept in $DLF_ROOTS (default /var/tmp/dlf-roots).
# Slow (minutes; the first run downloads ~100 MB), so it is a script and not part of CI.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
roots=${DLF_ROOTS:-/var/tmp/dlf-roots}
root=$roots/trixie-arm64
binary=$repo/packages/native/build-arm64/Release/dlf.node

[ -f "$repo/packages/nn/dist/index.js" ] || (cd "$repo" && pnpm run build)
if [ ! -f "$binary" ] || [ -n "${DLF_REBUILD:-}" ]; then
  (cd "$repo/packages/native" && pnpm run build:native:arm64)
fi
# The host cross-build, and the release binary (Debian 11, GCC 10) when build-release.sh staged it.
binaries=("$binary")
[ -f "$repo/npm/linux-arm64-gnu/dlf.node" ] && binaries+=("$repo/npm/linux-arm64-gnu/dlf.node")
for b in "${binaries[@]}"; do
  machine=$(readelf -h "$b" | sed -n 's/^ *Machine: *//p')
  echo "$b: $machine"
  [ "$machine" = AArch64 ] || { echo "not an AArch64 binary"; exit 1; }
done

mkdir -p "$roots"
bash "$repo/scripts/portable/debian-root.sh" "$root" trixie arm64 nodejs,ca-certificates
mkdir -p "$root/dlf"
mountpoint -q "$root/dlf" || mount --bind "$repo" "$root/dlf"
trap 'umount "$root/dlf"' EXIT
chroot "$root" sh -c 'uname -m; node -p "process.arch + \" \" + process.version"'
for b in "${binaries[@]}"; do
  echo "== $b"
  chroot "$root" /usr/bin/env DLF_NATIVE_PATH="/dlf${b#"$repo"}" node /dlf/scripts/portable/op-table.mjs
done
