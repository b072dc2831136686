#!/usr/bin/env bash
# ckpt_async.sh — asynchronous checkpoint save: how long training is blocked
# (copying the partition to a host buffer) next to how long the background
# write takes, for the same checkpoints in one run. W=2, a gpt of ~3.3 M
# parameters (params + AdamW m, v: ~40 MB per checkpoint), a save every 20 steps.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f data/fortunes.h5 ] || build/trainer/ztrain data prep text data/fortunes.h5 >/dev/null
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
launcher/ztrain-launch -n 2 -- build/trainer/ztrain train --config configs/fortunes_gpt.ini \
  --set model.d_model=256 --set model.n_layer=4 --set model.n_head=8 --set model.ctx=64 \
  --set train.global_batch=8 --set train.micro_batch=4 --set train.steps=100 --set eval.every=0 \
  --set eval.max_rows=16 --set log.every=20 --set ckpt.dir="$tmp/ck" --set ckpt.every=20 \
  --set ckpt.keep_last=2 --set log.metrics= >"$tmp/log" 2>&1
awk '/memory per rank/{print "model: " $0}
     /committed.*async/{match($0,/write [0-9.]+ ms/); w[++nw]=substr($0,RSTART+6,RLENGTH-9); match($0,/blocked [0-9.]+ ms/); b[++nb]=substr($0,RSTART+8,RLENGTH-11)}
     END{printf "%-6s %12s %12s %8s\n","save","blocked_ms","write_ms","ratio";
         for(i=1;i<=nb&&i<=nw;i++) printf "%-6d %12s %12s %7.1f%%\n", i, b[i], w[i], 100*b[i]/w[i]}' "$tmp/log"
