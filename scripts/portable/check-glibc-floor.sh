#!/usr/bin/env bash
# pnpm run check:glibc — proves the glibc floor: builds the release binaries in Debian 11
# (scripts/portable/build-release.sh; skipped when staged already, DLF_REBUILD=1 forces it), checks
# their highest GLIBC_ symbol version (<= 2.31), runs the packed-install smoke test with them, and
# then trains one epoch from that packed install inside the Debian 11 root (glibc 2.31) and runs two
# ranks of @dlf/distributed there on its bundled libgloo (the root has no Gloo of its own). Debian 11's
# own nodejs is 12, too old for dlf, so this machine's node is bind-mounted into the root: the
# official Node 20 builds need glibc 2.28, which the script checks first.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
roots=${DLF_ROOTS:-/var/tmp/dlf-roots}
root=$roots/bullseye-amd64
arch=$(node -p process.arch)
binary=$repo/npm/linux-$arch-gnu/dlf.node
distributed=$repo/npm/distributed-linux-$arch-gnu/dlf_distributed.node
native=$repo/packages/native

node_glibc=$(node -e "import('$native/scripts/glibc.mjs').then((g) => console.log(g.highestGlibc(process.execPath)?.version ?? 'none'))")
echo "node $(node --version) needs glibc $node_glibc"
node -e "import('$native/scripts/glibc.mjs').then((g) => process.exit(g.compareVersions('$node_glibc', '2.31') <= 0 ? 0 : 1))" ||
  { echo "this node needs a newer glibc than Debian 11 has; cannot prove the floor with it"; exit 1; }

if [ ! -f "$binary" ] || [ -n "${DLF_REBUILD:-}" ] || ! node "$native/scripts/check-glibc.mjs" "$binary" >/dev/null; then
  bash "$repo/scripts/portable/build-release.sh" native
fi
if [ ! -f "$distributed" ] || [ -n "${DLF_REBUILD:-}" ] || ! node "$native/scripts/check-glibc.mjs" "$distributed" >/dev/null; then
  bash "$repo/scripts/portable/build-release.sh" distributed
fi
node "$native/scripts/check-glibc.mjs" "$repo"/npm/linux-*-gnu/dlf.node "$distributed" "$(dirname "$distributed")"/*.so.*

smoke=$root/opt/dlf-smoke
rm -rf "$smoke"
bash "$repo/scripts/portable/packed-install.sh" --scratch "$smoke" --keep

mounts=()
cleanup() { for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do umount "${mounts[i]}" || true; done; }
trap cleanup EXIT
touch "$root/usr/local/bin/node"
mount --bind "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
mounts+=("$root/usr/local/bin/node")
mountpoint -q "$root/proc" || { mount -t proc proc "$root/proc"; mounts+=("$root/proc"); }
chroot "$root" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/tmp bash -euo pipefail -c '
  cd /opt/dlf-smoke/app
  echo "inside: $(. /etc/os-release; echo "$PRETTY_NAME"), $(ldd --version | sed -n 1p), node $(node --version)"
  ldd node_modules/@dlf/native-linux-*-gnu/dlf.node
  rm -rf run-debian11
  time node node_modules/.bin/dlf train shapes --epochs 1 --size 16 --batch-size 8 --out run-debian11 --no-color | tail -6
  test -f run-debian11/model.safetensors && echo "Debian 11: trained one epoch on a generated folder from the packed install"
  rm -rf run-debian11-mnist
  time node node_modules/.bin/dlf train --epochs 1 --out run-debian11-mnist --no-color | tail -6
  test -f run-debian11-mnist/model.safetensors && echo "Debian 11: trained one epoch of the bundled MNIST from the packed install"
  ! ls /usr/lib/libgloo* /usr/lib/*-linux-gnu/libgloo* 2>/dev/null || { echo "this root has a system libgloo"; exit 1; }
  ldd node_modules/@dlf/distributed-linux-*-gnu/dlf_distributed.node | grep -E "gloo|hiredis|ibverbs|libnl"
  node distributed.mjs && echo "Debian 11: two ranks allreduced on the packed libgloo (no system Gloo)"
'
