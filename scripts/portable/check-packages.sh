#!/usr/bin/env bash
# pnpm run check:packages — publint (strict) and arethetypeswrong on every publishable package, as
# packed. The packages are ES modules only (profile esm-only): Node >= 20.19, their engines floor,
# loads them from CommonJS too with require(esm), and one format means one copy of the module state
# (the native handles, the default generator) instead of the dual-package hazard.
# Needs a built tree; packing runs the prepack binary checks (DLF_PACK_HOST_BINARY=1 for a host build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=$repo/node_modules/.bin
failed=0
for dir in packages/native packages/tensor-core packages/autograd packages/nn packages/loss packages/optim \
  packages/data packages/train packages/cli npm/linux-x64-gnu npm/linux-arm64-gnu npm/distributed-linux-x64-gnu; do
  [[ $dir != npm/* ]] || [ -f "$repo/$dir/$(cd "$repo/$dir" && node -p 'require("./package.json").main')" ] ||
    { echo "$dir: no staged binary, skipped"; continue; }
  cd "$repo/$dir"
  if out=$("$bin/publint" --strict 2>&1) && echo "$out" | grep -q 'All good'; then publint=ok; else publint=FAIL; failed=1; echo "$out"; fi
  types=n/a
  if node -e 'process.exit(require("./package.json").exports ? 0 : 1)'; then
    if out=$("$bin/attw" --pack . --profile esm-only --format table-flipped 2>&1); then types=ok; else types=FAIL; failed=1; echo "$out"; fi
  fi
  echo "$dir: publint $publint, arethetypeswrong (esm-only) $types"
done
exit $failed
