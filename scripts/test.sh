#!/usr/bin/env bash
# The test command: sets everything up, then runs every test (extra arguments go to vitest).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec pnpm exec vitest run "$@"
