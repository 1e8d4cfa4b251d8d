#!/usr/bin/env bash
# The main job: sets everything up (pnpm, dependencies, native addon, packages), then trains with the
# dlf command. With no arguments: seed-cnn on MNIST (bundled, offline), 10 epochs, run folder in runs/.
# Extra arguments go to `dlf train` (npm run train -- --epochs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm exec dlf train "$@"
