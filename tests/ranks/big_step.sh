#!/usr/bin/env bash
# big_step.sh RESTEP — steps above 2^24 survive resume exactly (a float
# carries integers only up to 2^24 = 16,777,216).
#  1. a checkpoint whose step is 16,777,217 resumes at exactly that step and
#     trains on to 16,777,219;
#  2. when that checkpoint is damaged, the fallback picks the next older one,
#     16,777,216 — the failed step travels between ranks as an integer (as a
#     float it rounds to 16,777,216 and the fallback finds nothing left).
# RESTEP (tests/ranks/ckpt_restep) copies a real checkpoint under those steps.
. "$(dirname "$0")/lib.sh"
restep=$1
cfg=(--config "$SRC/tests/ranks/tiny_mlp.ini" --set data.path="$DATA/mnist.h5" --set ckpt.keep_last=0)
big=16777217

rc=0
run_w 2 train "${cfg[@]}" --set train.steps=6 --set train.zero_stage=1 --set ckpt.dir="$T/src" --stop-at 2 \
    >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "first leg exited $rc, want 3"; }
"$restep" "$T/src/step-00000002" "$T/big" $((big - 1)) >/dev/null || fail "restep $((big - 1))"
"$restep" "$T/src/step-00000002" "$T/big" $big >/dev/null || fail "restep $big"
[ "$(cat "$T/big/latest")" = "step-$big" ] || fail "latest is $(cat "$T/big/latest")"
cp -a "$T/big" "$T/bad"

# 1. resume at exactly 16,777,217 (at another W and stage), train 2 more steps
run_w 3 train "${cfg[@]}" --set train.steps=$((big + 2)) --set train.zero_stage=2 --set ckpt.dir="$T/big" \
    --set ckpt.every=1 --set ckpt.async=false >"$T/log" 2>&1 || { cat "$T/log"; fail "resume from step $big"; }
grep -q "resumed from $T/big/step-$big (step $big, written by W=2 stage 1; now W=3 stage 2)" "$T/log" \
    || { cat "$T/log"; fail "did not resume at step $big"; }
grep -q "step $((big + 1))/$((big + 2)) " "$T/log" || { cat "$T/log"; fail "the first step after resume is not $((big + 1))"; }
[ "$(cat "$T/big/latest")" = "step-$((big + 2))" ] || fail "latest is $(cat "$T/big/latest"), want step-$((big + 2))"
echo "resumed at step $big, trained to $((big + 2)), committed step-$((big + 2))"

# 2. damage a shard of step 16,777,217: the fallback takes 16,777,216
shard=$(ls "$T/bad/step-$big"/shard-*.h5 | head -1)
"$PY" - "$shard" <<'PY'
import sys
with open(sys.argv[1], "r+b") as f:     # flip one bit in the middle: size kept, CRC differs
    f.seek(0, 2); n = f.tell(); f.seek(n // 2); b = f.read(1); f.seek(n // 2)
    f.write(bytes([b[0] ^ 0x10]))
PY
run_w 3 train "${cfg[@]}" --set train.steps=$((big + 1)) --set train.zero_stage=2 --set ckpt.dir="$T/bad" \
    >"$T/log" 2>&1 || { cat "$T/log"; fail "fallback resume"; }
grep -q "resumed from $T/bad/step-$((big - 1)) (step $((big - 1))," "$T/log" \
    || { cat "$T/log"; fail "the fallback did not pick step $((big - 1))"; }
echo "damaged step $big: fell back to step $((big - 1))"
echo "PASS: steps above 2^24 resume exactly"
