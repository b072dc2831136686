#!/usr/bin/env bash
# zero_comm.sh — exposed communication per step under DDP and ZeRO-1/2/3 for
# the same gradient bytes: W=2, MLP 784-4096-4096-4096-10 (36.8 M parameters,
# 147 MB of fp32 gradients), global batch 64 (micro 32: one micro-batch per
# rank), AdamW, 1 BLAS thread per rank, both ranks pinned to cores $CORES.
# "comm" is the time the step was blocked on collectives (the engine's
# timeline), "step" the whole step, "wall" the run as the user waits for it.
# The stages alternate ROUNDS times.   env: ROUNDS (2) STEPS (30) CORES (0,1) BUCKET_MB (25)
# ZT (build/trainer/ztrain): the binary to measure, e.g. another build of
# another commit, run alternately with this one for a side-by-side figure.
# STAGES ("0 1 2 3"): the stages to run, in that order.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}; STEPS=${STEPS:-30}; CORES=${CORES:-0,1}; BUCKET_MB=${BUCKET_MB:-25}
ZT=${ZT:-build/trainer/ztrain}; STAGES=${STAGES:-0 1 2 3}
[ -f data/mnist.h5 ] || "$ZT" data prep mnist data/mnist.h5 data/raw/mnist >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "# $ZT: W=2 mlp 784-4096x3-10, batch 64, $STEPS steps, bucket ${BUCKET_MB} MB, cores $CORES; ZT_COMM_RS=${ZT_COMM_RS:-ring (default)}; $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-4s %-6s %10s %10s %8s\n" run stage comm_ms step_ms wall_s
for ((i = 1; i <= ROUNDS; i++)); do
  for stage in $STAGES; do
    rm -f "$tmp/m.jsonl"; t0=$(date +%s.%N)
    taskset -c "$CORES" launcher/ztrain-launch -n 2 -- "$ZT" train --config configs/mnist_mlp.ini \
      --set model.hidden=4096,4096,4096 --set train.global_batch=64 --set train.micro_batch=32 \
      --set train.steps="$STEPS" --set train.zero_stage=$stage --set train.bucket_mb="$BUCKET_MB" \
      --set train.threads=1 --set log.every=5 --set eval.every=0 --set eval.max_rows=64 --set ckpt.dir= \
      --set log.metrics="$tmp/m.jsonl" >/dev/null
    t1=$(date +%s.%N)
    /usr/bin/python3 -c "
import json
r=[json.loads(l) for l in open('$tmp/m.jsonl') if '\"comm_ms\"' in l]
r=r[1:]   # the first interval holds the warm-up
c=sum(x['comm_ms'] for x in r)/len(r); s=sum(x['step_ms'] for x in r)/len(r)
print(f'%-4s %-6s %10.1f %10.1f %8.2f' % ('$i', '$stage', c, s, $t1-$t0))"
  done
done
