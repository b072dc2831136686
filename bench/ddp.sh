#!/usr/bin/env bash
# ddp.sh — ztrain DDP at W=2 against PyTorch DDP (gloo) at W=2, same MLP,
# global batch, threads per rank and optimizer, run back to back three times
# (alternating) so both see the same machine state; prints the ratio.
#   bench/ddp.sh [hidden=256,128] [global_batch=64]
set -euo pipefail
cd "$(dirname "$0")/.."
HID=${1:-256,128}; GB=${2:-64}; W=2; STEPS=400
cores=$(nproc); thr=$(( cores / W > 0 ? cores / W : 1 ))
[ -f data/mnist.h5 ] || build/trainer/ztrain data prep mnist data/mnist.h5 data/raw/mnist >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
zt_run() {
  rm -f "$tmp/m.jsonl"
  launcher/ztrain-launch -n $W -- build/trainer/ztrain train --config configs/mnist_mlp.ini \
    --set model.hidden="$HID" --set train.global_batch="$GB" --set train.micro_batch=$((GB / W)) \
    --set train.steps=$STEPS --set log.every=100 --set eval.every=0 --set ckpt.dir= \
    --set train.threads=$thr --set log.metrics="$tmp/m.jsonl" >/dev/null
  # mean samples/s over the logged intervals after the first (warm-up)
  /usr/bin/python3 -c "
import json,sys
r=[json.loads(l) for l in open('$tmp/m.jsonl') if '\"samples_per_s\"' in l and 'summary' not in l]
v=[x['samples_per_s'] for x in r[1:]]; print(f'{sum(v)/len(v):.1f}')"
}
th_run() { /usr/bin/python3 bench/torch_ddp.py --world $W --threads $thr --hidden "$HID" \
             --global-batch "$GB" --steps $STEPS | awk '/samples_per_s/{print $2}'; }
echo "DDP W=$W, mlp 784-${HID//,/-}-10, global batch $GB, $thr thread(s)/rank, AdamW, $(nproc) cores"
printf "%-6s %14s %14s %8s\n" run ztrain_sps torch_sps ratio
for i in 1 2 3; do
  a=$(zt_run); b=$(th_run)
  printf "%-6s %14s %14s %8s\n" "$i" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a/b}')"
done
