#!/usr/bin/env bash
# exact.sh — what train.exact costs: step time and bytes handed to collectives
# per step, exact off and on side by side, for the MLP and the GPT at W=2 and
# W=4, ZeRO stages 0 and 3 (issue 14). Both sides pinned to the same cores
# (taskset), 1 BLAS thread per rank, same data, seed and optimizer; off and on
# alternate ROUNDS times and the median step time of each side is kept.
# Step time: the mean over the last LOG steps of a run (metrics step_ms, the
# wall time of zt_engine_step on rank 0), so start-up is not in it.
#   env: ROUNDS (2) CORES (0,1) STEPS (60) LOG (30) MODELS ("mlp gpt") WS ("2 4") STAGES ("0 3")
# Prints one table row per (model, W, stage): off/on ms per step, ratio, bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}; CORES=${CORES:-0,1}; STEPS=${STEPS:-60}; LOG=${LOG:-30}
MODELS=${MODELS:-mlp gpt}; WS=${WS:-2 4}; STAGES=${STAGES:-0 3}
ZT=${ZT:-build/trainer/ztrain}
[ -f data/mnist.h5 ] || "$ZT" data prep mnist data/mnist.h5 data/raw/mnist >/dev/null
[ -f data/fortunes.h5 ] || "$ZT" data prep text data/fortunes.h5 >/dev/null
source bench/coretype.sh   # same OpenBLAS kernels on both sides
unset SLURM_JOB_ID SLURM_JOBID
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
args() {   # $1 model: the model and its batch (4 micro-batches per step: 2 or 1 per rank)
  case $1 in
    mlp) echo "--config configs/mnist_mlp.ini --set data.path=data/mnist.h5 --set train.global_batch=128 --set train.micro_batch=32" ;;
    gpt) echo "--config configs/fortunes_gpt.ini --set data.path=data/fortunes.h5 --set model.d_model=128 --set model.n_layer=4 --set model.n_head=4 --set model.ctx=64 --set train.global_batch=16 --set train.micro_batch=4" ;;
  esac
}
run() {   # model W stage exact -> "step_ms comm_bytes" of the last logged interval
  local m=$1 w=$2 s=$3 x=$4
  rm -f "$tmp/m.jsonl"
  # shellcheck disable=SC2046
  taskset -c "$CORES" launcher/ztrain-launch -n "$w" -- "$ZT" train $(args "$m") --set train.zero_stage="$s" \
    --set train.exact="$x" --set train.threads=1 --set train.steps="$STEPS" --set log.every="$LOG" \
    --set eval.every=0 --set eval.max_rows=32 --set ckpt.dir= --set log.metrics="$tmp/m.jsonl" >"$tmp/log" 2>&1 \
    || { cat "$tmp/log" >&2; echo "exact.sh: run $m W=$w stage $s exact=$x failed" >&2; exit 1; }
  /usr/bin/python3 - "$tmp/m.jsonl" <<'EOF'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"step_ms"' in l][-1]
print(f"{r['step_ms']:.3f} {int(r['comm_bytes'])}")
EOF
}
median() { tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "# train.exact cost: $(date -u +%Y-%m-%dT%H:%MZ); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores;" \
     "pinned to cores $CORES, 1 BLAS thread/rank, $STEPS steps (step time = mean of the last $LOG), $ROUNDS rounds off/on alternating"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "| %-5s | %2s | %5s | %12s | %12s | %7s | %15s | %15s | %6s |\n" model W stage "off ms/step" "on ms/step" "on/off" "off bytes/step" "on bytes/step" bytes×
echo "|-------|----|-------|--------------|--------------|---------|-----------------|-----------------|--------|"
for m in $MODELS; do for w in $WS; do for s in $STAGES; do
  offs=""; ons=""; boff=0; bon=0
  for ((i = 1; i <= ROUNDS; i++)); do
    read -r t b < <(run "$m" "$w" "$s" false); offs="$offs $t"; boff=$b
    read -r t b < <(run "$m" "$w" "$s" true);  ons="$ons $t";  bon=$b
  done
  off=$(echo $offs | median); on=$(echo $ons | median)
  awk -v m="$m" -v w="$w" -v s="$s" -v off="$off" -v on="$on" -v bo="$boff" -v bn="$bon" -v ro="$offs" -v rn="$ons" 'BEGIN {
    printf "| %-5s | %2d | %5d | %12.2f | %12.2f | %7.3f | %15d | %15d | %6.2f |   (off:%s, on:%s)\n",
           m, w, s, off, on, on / off, bo, bn, bn / bo, ro, rn }'
done; done; done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
