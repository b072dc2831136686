#!/usr/bin/env bash
# invariance.sh MODEL — DESIGN invariant 1: for W in 1..4 and ZeRO stage 0..3
# the parameters after n steps equal W=1 stage 0 within relative 1e-5.
. "$(dirname "$0")/lib.sh"
model=$1
cfg="$SRC/tests/ranks/tiny_$model.ini"
ds="$DATA/mnist.h5"; [ "$model" = gpt ] && ds="$DATA/fortunes.h5"
run_w 1 train --config "$cfg" --set data.path="$ds" --set train.zero_stage=0 --dump-params "$T/ref.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "reference run"; }
# the reference must have moved away from the init (a test that can fail)
run_w 1 train --config "$cfg" --set data.path="$ds" --set train.steps=1 --set optim.lr=1e-9 \
    --dump-params "$T/init.bin" >/dev/null 2>&1
cmp_params "$T/ref.bin" "$T/init.bin" 1e-3 >/dev/null && fail "training did not change the parameters"
for W in 1 2 3 4; do
  for s in 0 1 2 3; do
    [ "$W$s" = 10 ] && continue
    run_w "$W" train --config "$cfg" --set data.path="$ds" --set train.zero_stage=$s \
        --dump-params "$T/w$W-s$s.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "W=$W stage=$s run"; }
    echo -n "W=$W stage=$s: "; cmp_params "$T/ref.bin" "$T/w$W-s$s.bin" 1e-5 || fail "W=$W stage $s differs"
  done
done
echo "PASS: $model W-invariance over W=1..4, stages 0..3"
