#!/usr/bin/env bash
# The main job: sets everything up, then trains the reference model (seed-cnn) on MNIST, offline.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node examples/train-mnist.mjs "$@"
