#!/usr/bin/env bash
# overlap.sh — the engine's own timeline shows a bucket's all-reduce starting
# before backward ends (DDP, W=2, several buckets), and likewise ZeRO-2's
# reduce-scatter. The model is big enough that backward lasts tens of ms: on
# 2 cores the comm thread must be scheduled while the ranks compute.
. "$(dirname "$0")/lib.sh"
for s in 0 2; do
  run_w 2 train --config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/fortunes.h5" \
      --set train.steps=6 --set train.zero_stage=$s --set train.bucket_mb=0.25 \
      --set model.d_model=128 --set model.n_layer=4 --set model.ctx=64 --set train.micro_batch=12 \
      --set train.threads=1 --set eval.max_rows=24 \
      --set log.metrics="$T/m$s.jsonl" >"$T/log" 2>&1 || { cat "$T/log"; fail "stage $s run"; }
  "$PY" - "$T/m$s.jsonl" "$s" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
steps = [r for r in rows if "first_comm_start" in r]
assert steps, "no step records"
n = 0
for r in steps:
    lead = (r["backward_end"] - r["first_comm_start"]) * 1e3
    print(f"stage {sys.argv[2]} step {r['step']}: first gradient collective started {lead:.3f} ms before backward ended")
    n += lead > 0
if n < len(steps) // 2 + 1:
    sys.exit("FAIL: communication did not start before the end of backward")
PY
done
echo "PASS: bucket communication overlaps backward"
