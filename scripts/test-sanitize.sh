#!/usr/bin/env bash
# pnpm test:sanitize [--reduced | test paths…] [vitest args]: builds the addon with AddressSanitizer and
# UndefinedBehaviorSanitizer into packages/native/build-sanitize (the normal build is untouched) and
# runs the native-heavy suites against it, with libasan preloaded into node. Every report aborts
# the process, so any report fails the run. --reduced runs the subset CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
reduced=0
if [ "${1:-}" = "--reduced" ]; then reduced=1; shift; fi
(cd packages/native && pnpm exec cmake-js compile --out build-sanitize --CDDLF_SANITIZE=address,undefined --parallel 2 >/dev/null)
addon="$PWD/packages/native/build-sanitize/Release/dlf.node"
asan="$(g++ -print-file-name=libasan.so)"
ubsan="$(g++ -print-file-name=libubsan.so)"
export DLF_NATIVE_PATH="$addon" DLF_SANITIZE=1
export LD_PRELOAD="$asan $ubsan"
# Node itself is not instrumented: leak checking and the ODR check would report node, not us.
export ASAN_OPTIONS="detect_leaks=0:detect_odr_violation=0:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# The instrumented addon must be the one loaded (the loader would fall back to the normal build).
node -e '
  const a = require(process.argv[1]);
  if (typeof a.version !== "string") process.exit(1);
  const nm = require("child_process").execSync(`nm -D ${process.argv[1]}`).toString();
  if (!nm.includes("__asan_")) { console.error("the sanitizer build is not instrumented"); process.exit(1); }
  console.log(`sanitized addon ${process.argv[1]} loads (version ${a.version})`);
' "$addon"
if [ $reduced = 1 ]; then
  # The CI subset: every native-heavy suite except the long soak tests (ownership's 100,000-cycle
  # RSS checks, the thread sweeps and the per-ISA conv comparisons take minutes under ASan).
  suites=(packages/tensor-core/test/native-binding.test.ts packages/tensor-core/test/creation.test.ts
    packages/tensor-core/test/views.test.ts packages/tensor-core/test/safetensors-fuzz.test.ts
    packages/tensor-core/test/safetensors-validation.test.ts packages/tensor-core/test/safetensors-layout.test.ts
    packages/tensor-core/test/random.test.ts packages/autograd/test packages/nn/test/ops.test.ts
    packages/nn/test/conv-winograd.test.ts packages/nn/test/conv-paths.test.ts packages/nn/test/bn-relu-fused.test.ts
    packages/nn/test/bn-kernels.test.ts packages/nn/test/bn-depthwise.test.ts
    packages/nn/test/hostile-models.test.ts packages/nn/test/workers.test.ts packages/loss/test
    packages/optim/test fuzz/regressions.test.ts)
else
  suites=(packages/tensor-core/test packages/autograd/test packages/nn/test packages/loss/test
    packages/optim/test packages/data/test packages/train/test fuzz/regressions.test.ts)
fi
# Test files or folders given first replace the suite list (pnpm test:sanitize packages/nn/test).
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  suites=()
  while [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; do suites+=("$1"); shift; done
fi
existing=()
for s in "${suites[@]}"; do [ -e "$s" ] && existing+=("$s"); done
exec pnpm exec vitest run "${existing[@]}" "$@"
