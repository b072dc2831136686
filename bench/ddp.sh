#!/usr/bin/env bash
# ddp.sh — ztrain DDP at W=2 against PyTorch DDP (gloo) at W=2: same MLP,
# global batch, optimizer (AdamW), 1 thread per rank, flush-to-zero on both
# sides, the same real data (ztrain reads data/mnist.h5 through its loader
# thread; torch reads the same file's training split into memory with h5py),
# both pinned to the same cores (taskset -c $CORES: ztrain's loader and comm
# threads compete for those cores like torch's gloo threads do).
# Two figures per run, alternating the sides ROUNDS times:
#   wall   — seconds from launch to exit of the whole command, what a user
#            waits for (includes start-up: MPI/PMIx boot, python + torch import);
#   steady — samples/s over the timed steps (ztrain: metrics intervals after the
#            first; torch: after its warm-up steps).
#   bench/ddp.sh [hidden=256,128] [global_batch=64]   env: STEPS (2000) ROUNDS (3) CORES (0,1)
set -euo pipefail
cd "$(dirname "$0")/.."
HID=${1:-256,128}; GB=${2:-64}; W=2; STEPS=${STEPS:-2000}; ROUNDS=${ROUNDS:-3}
CORES=${CORES:-0,1}; thr=1
py=/usr/bin/python3
[ -f data/mnist.h5 ] || build/trainer/ztrain data prep mnist data/mnist.h5 data/raw/mnist >/dev/null
source bench/coretype.sh   # same OpenBLAS kernels on both sides
export OPENBLAS_NUM_THREADS=$thr OMP_NUM_THREADS=$thr
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
zt_run() {   # prints "wall steady"
  rm -f "$tmp/m.jsonl"
  local t0 t1; t0=$(now)
  taskset -c "$CORES" launcher/ztrain-launch -n $W -- build/trainer/ztrain train --config configs/mnist_mlp.ini \
    --set model.hidden="$HID" --set train.global_batch="$GB" --set train.micro_batch=$((GB / W)) \
    --set train.steps="$STEPS" --set log.every=100 --set eval.every=0 --set eval.max_rows=64 --set ckpt.dir= \
    --set optim.name=adamw --set train.threads=$thr --set log.metrics="$tmp/m.jsonl" >/dev/null
  t1=$(now)
  $py -c "
import json
r=[json.loads(l) for l in open('$tmp/m.jsonl') if '\"samples_per_s\"' in l and 'summary' not in l]
v=[x['samples_per_s'] for x in r[1:]]; print(f'{$t1-$t0:.2f} {sum(v)/len(v):.1f}')"
}
th_run() {
  local t0 t1 sps; t0=$(now)
  sps=$(PYTHONWARNINGS=ignore taskset -c "$CORES" $py bench/torch_ddp.py --world $W --threads $thr --hidden "$HID" \
          --global-batch "$GB" --steps "$STEPS" --data data/mnist.h5 --flush-denormal 1 | awk '/samples_per_s/{print $2}')
  t1=$(now)
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}') $sps"
}
echo "# DDP W=$W, mlp 784-${HID//,/-}-10, global batch $GB, $STEPS steps, AdamW, $thr thread/rank, cores $CORES (both), ftz on (both)"
echo "# $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1); OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}; $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-4s %10s %10s %8s | %12s %12s %8s\n" run zt_wall_s th_wall_s ratio zt_steady th_steady ratio
for ((i = 1; i <= ROUNDS; i++)); do
  read -r zw zs < <(zt_run); read -r tw ts < <(th_run)
  printf "%-4s %10s %10s %8s | %12s %12s %8s\n" "$i" "$zw" "$tw" "$(awk -v a="$zw" -v b="$tw" 'BEGIN{printf "%.2f", b/a}')" \
    "$zs" "$ts" "$(awk -v a="$zs" -v b="$ts" 'BEGIN{printf "%.2f", a/b}')"
done
echo "# ratio = torch time / ztrain time (wall) and ztrain / torch samples/s (steady): > 1 means ztrain is faster"
