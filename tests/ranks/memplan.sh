#!/usr/bin/env bash
# memplan.sh — the memory check before allocation (trainer/memplan.h), on a
# node made small with ZT_TEST_MEMAVAILABLE (bytes; tests only).
#  1. Nothing fits (1 MB): exit 2 on W=2, "no ZeRO stage fits"; the stage-0
#     model states it names equal 16 P (AdamW, P computed here from the GPT's
#     shapes, model.h), and the per-node figures of the four stages are those
#     of 2 ranks.
#  2. A node between stage 0's and stage 1's needs: exit 2 suggesting
#     train.zero_stage = 1; the same job at stage 1 trains.
#  3. Without the override (this machine's MemAvailable) the job trains and
#     says it fits.
. "$(dirname "$0")/lib.sh"
V=114 CTX=16 C=64 L=4 NH=4
job=(train --config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/fortunes.h5" --set train.steps=1
     --set model.d_model=$C --set model.n_layer=$L --set model.n_head=$NH --set model.ctx=$CTX --set eval.max_rows=4)

ZT_TEST_MEMAVAILABLE=1000000 expect_exit 2 run_w 2 "${job[@]}"
grep -q "no ZeRO stage fits" "$T/err" || { cat "$T/err"; fail "no 'no ZeRO stage fits'"; }
read -r n0 n1 n2 n3 < <("$PY" - "$T/err" $V $CTX $C $L <<'PY'
import re, sys
err = open(sys.argv[1]).read()
V, T, C, L = map(int, sys.argv[2:])
P = V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C   # tied head (GPT-2)
states = int(re.search(r"model states (\d+) B", err).group(1))
# 16 bytes a parameter at stage 0; a separate head [V, C] (the untied GPT) adds V*C parameters
assert states in (16 * P, 16 * (P + V * C)), f"stage-0 model states {states} != 16 P = {16 * P} (+ head {16 * V * C})"
node = [int(b) for _, b in re.findall(r"stage (\d) (\d+) B", err)][:4]
assert len(node) == 4 and node[0] >= 2 * states, (node, states)   # two ranks on the node
print(*node)
PY
) || fail "projection figures"
[ -n "$n3" ] || fail "no per-stage figures"
# a node where stage 1 fits and stage 0 does not (95% of it is usable)
avail=$(( n1 * 20 / 19 + 4096 ))
[ $(( avail / 20 * 19 )) -lt "$n0" ] || fail "test setup: stages 0 and 1 too close ($n0, $n1)"
ZT_TEST_MEMAVAILABLE=$avail expect_exit 2 run_w 2 "${job[@]}"
grep -q "suggestion: train.zero_stage = 1 fits" "$T/err" || { cat "$T/err"; fail "no stage-1 suggestion"; }
grep -q "train.zero_stage = 0 (default) needs" "$T/err" || { cat "$T/err"; fail "the configured stage is not named"; }
ZT_TEST_MEMAVAILABLE=$avail run_w 2 "${job[@]}" --set train.zero_stage=1 >"$T/ok.log" 2>&1 || { cat "$T/ok.log"; fail "stage 1 should fit"; }
grep -q "memory check: stage 1 fits" "$T/ok.log" || fail "no 'fits' line"
run_w 2 "${job[@]}" >"$T/ok2.log" 2>&1 || { cat "$T/ok2.log"; fail "the real MemAvailable"; }
grep -q "memory check: stage 0 fits" "$T/ok2.log" || fail "no 'fits' line with the real MemAvailable"
echo "memplan: ok"
