#!/usr/bin/env bash
# Brings a fresh clone to a built state: pnpm (pinned), dependencies, the native addon and every package.
# Safe to run again: each step is a no-op or cached when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1 TURBO_UI=false
PNPM_VERSION=10.34.8
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  echo "dlf: installing pnpm $PNPM_VERSION" >&2
  npm install -g "pnpm@$PNPM_VERSION" >/dev/null 2>&1 || {
    echo "dlf: could not install pnpm globally; run 'npm install -g pnpm@$PNPM_VERSION' (or use sudo) and retry" >&2
    exit 1
  }
fi
for tool in cmake g++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "dlf: '$tool' is needed to build the native addon (Debian/Ubuntu: apt-get install cmake g++)" >&2
    exit 1
  fi
done
if [ ! -f /usr/share/cmake/Gloo/GlooConfig.cmake ] && [ -z "${GLOO_DIR:-}" ]; then
  echo "dlf: Gloo is needed to build @dlf/distributed (Debian/Ubuntu: apt-get install libgloo-dev)" >&2
  exit 1
fi
if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile >&2; else pnpm install >&2; fi
pnpm run build >&2
