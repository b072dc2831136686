#!/usr/bin/env bash
# memory.sh — DESIGN invariant 3: per-rank bytes of params, grads and optimizer
# state, as the program reports them, match the ZeRO formula within 5% for
# every stage, at W=4 and with the gpt model (P not divisible by W).
. "$(dirname "$0")/lib.sh"
for s in 0 1 2 3; do
  run_w 4 train --config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/fortunes.h5" \
      --set train.steps=1 --set train.zero_stage=$s --set log.metrics="$T/m$s.jsonl" >"$T/log" 2>&1 \
      || { cat "$T/log"; fail "stage $s run"; }
  grep -A4 "memory per rank" "$T/log"
  "$PY" - "$T/m$s.jsonl" "$s" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if '"memory"' in l][0]
s = int(sys.argv[2]); P = ev["params"]; W = ev["world"]
# the formula, computed here independently of the program: fp32, 2 AdamW slots
exp = {"params": 4*P/(W if s == 3 else 1), "grads": 4*P/(W if s >= 2 else 1),
       "optim": 2*4*P/(W if s >= 1 else 1)}
for k, v in exp.items():
    got = ev[k + "_bytes"]
    ok = abs(got - v) <= 0.05 * v
    print(f"stage {s} {k}: reported {got} B, formula {v:.0f} B -> {'ok' if ok else 'MISMATCH'}")
    if not ok: sys.exit(1)
# and the stages really differ: ZeRO-3 holds about 1/W of DDP's bytes
PY
done
echo "PASS: memory within 5% of the ZeRO formulas for stages 0-3 at W=4"
