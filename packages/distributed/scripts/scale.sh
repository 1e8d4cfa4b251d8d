#!/usr/bin/env bash
# Scaling measurements of the package README (run as root for the namespace part; build first).
#   bash scripts/scale.sh loopback            # 1 process × 1 thread, 1 × 2, 2 × 1 on 127.0.0.1
#   bash scripts/scale.sh netns               # 2 "hosts": network namespaces joined by a veth pair,
#                                             # shaped with a token-bucket filter to 1 and 10 Gbit/s
# MODELS (default "seed-cnn resnet20"), STEPS_SEED (30), STEPS_RESNET (4) tune the runs; OVERLAP=false
# reduces gradients after backward instead of during it, BUCKET_BYTES sets the bucket size (1 MiB),
# RATES the shaped link rates of netns (default "1gbit 10gbit").
# Traffic stays on loopback or inside the two namespaces (10.231.0.0/24, no route out).
set -euo pipefail
cd "$(dirname "$0")"
MODELS=${MODELS:-"seed-cnn resnet20"}
steps() { if [ "$1" = resnet20 ]; then echo "${STEPS_RESNET:-4}"; else echo "${STEPS_SEED:-30}"; fi; }
job() {
  echo "{\"model\":\"$1\",\"batch\":$2,\"steps\":$(steps "$1"),\"warmup\":2,\"overlap\":${OVERLAP:-true},\"bucketBytes\":${BUCKET_BYTES:-1048576}}"
}

pair() { # $1 model, $2 "ns" or "", $3 master address
  local port=$((29600 + RANDOM % 300)) pids=()
  for r in 0 1; do
    local prefix=()
    [ -n "$2" ] && prefix=(ip netns exec "dlfns$r")
    "${prefix[@]}" env RANK=$r WORLD_SIZE=2 MASTER_ADDR="$3" MASTER_PORT=$port DLF_NUM_THREADS=1 \
      DLF_SCALE_JOB="$(job "$1" 32)" node scale-worker.mjs &
    pids+=($!)
  done
  wait "${pids[@]}"
}

if [ "${1:-loopback}" = loopback ]; then
  for m in $MODELS; do
    DLF_NUM_THREADS=1 DLF_SCALE_JOB="$(job "$m" 64)" node scale-worker.mjs
    DLF_NUM_THREADS=2 DLF_SCALE_JOB="$(job "$m" 64)" node scale-worker.mjs
    pair "$m" "" 127.0.0.1
  done
else
  cleanup() { ip netns del dlfns0 2>/dev/null || true; ip netns del dlfns1 2>/dev/null || true; }
  trap cleanup EXIT
  cleanup
  ip netns add dlfns0 && ip netns add dlfns1
  ip link add dlfv0 type veth peer name dlfv1
  ip link set dlfv0 netns dlfns0 && ip link set dlfv1 netns dlfns1
  for r in 0 1; do
    ip -n "dlfns$r" addr add "10.231.0.$((r + 1))/24" dev "dlfv$r"
    ip -n "dlfns$r" link set "dlfv$r" up && ip -n "dlfns$r" link set lo up
  done
  for rate in ${RATES:-1gbit 10gbit}; do
    # netem is missing from this kernel ("Specified qdisc kind is unknown"); tbf enforces the rate.
    for r in 0 1; do
      tc -n "dlfns$r" qdisc replace dev "dlfv$r" root tbf rate "$rate" burst 1mb latency 50ms
    done
    echo "# link $rate"
    for m in $MODELS; do pair "$m" ns 10.231.0.1; done
  done
fi
