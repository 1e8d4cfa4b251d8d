#!/usr/bin/env bash
# pnpm fuzz [--long]: mutation fuzzing of every format reader (fuzz/run.fuzz.ts). The quick mode runs
# FUZZ_CASES (default 2000) cases per target, --long runs 100000. A case that crashes the process is
# left in fuzz/.in-flight/; it is kept here as a regression fixture under fuzz/fixtures/<target>/.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--long" ]; then export FUZZ_CASES="${FUZZ_CASES:-100000}"; shift; fi
rm -rf fuzz/.in-flight
status=0
pnpm exec vitest run --config fuzz/vitest.config.ts "$@" || status=$?
if [ -d fuzz/.in-flight ]; then
  for f in fuzz/.in-flight/*; do
    [ -e "$f" ] || continue
    name="$(basename "$f")"
    target="${name%%[.-]*}"
    id="$(sha256sum "$f" | cut -c1-16)"
    mkdir -p "fuzz/fixtures/$target"
    cp "$f" "fuzz/fixtures/$target/$id.bin"
    echo "crashed the process (found by pnpm fuzz, seed ${FUZZ_SEED:-1})" > "fuzz/fixtures/$target/$id.txt"
    echo "kept the crashing case as fuzz/fixtures/$target/$id.bin"
    status=1
  done
fi
exit $status
