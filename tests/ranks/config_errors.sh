#!/usr/bin/env bash
# config_errors.sh — bad configs exit 2 with a message naming file, line, key.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
printf '[train]\nsteps = 3\nbogus = 1\n' >"$T/unknown.ini"
expect_exit 2 "$ZT" train --config "$T/unknown.ini"
grep -q "unknown.ini:3: unknown key 'train.bogus'" "$T/err" || fail "unknown key: $(cat $T/err)"
printf '[train]\nsteps = many\n' >"$T/badval.ini"
expect_exit 2 "$ZT" train --config "$T/badval.ini"
grep -q "badval.ini:2: train.steps: expected an integer, got 'many'" "$T/err" || fail "bad value: $(cat $T/err)"
printf '[train\nsteps = 3\n' >"$T/syntax.ini"
expect_exit 2 "$ZT" train --config "$T/syntax.ini"
grep -q "syntax.ini:1" "$T/err" || fail "syntax: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$cfg" --set train.zero_stage=7
grep -q "train.zero_stage" "$T/err" || fail "range: $(cat $T/err)"
expect_exit 2 "$ZT" train --config "$T/nonexistent.ini"
grep -q "nonexistent.ini: cannot open" "$T/err" || fail "missing file: $(cat $T/err)"
# global_batch 24 is not divisible by W=4 x micro_batch 4
expect_exit 2 run_w 4 train --config "$cfg" --set data.path="$DATA/mnist.h5" --set train.micro_batch=4
grep -q "tiny_mlp.ini:6: train.global_batch = 24 is not divisible by W (4) x train.micro_batch (4)" "$T/err" \
    || fail "divisibility: $(cat $T/err)"
# missing dataset: exit 4 naming the file
expect_exit 4 "$ZT" train --config "$cfg" --set data.path="$T/none.h5"
grep -q "none.h5" "$T/err" || fail "missing data: $(cat $T/err)"
# dataset smaller than one global batch
expect_exit 4 "$ZT" train --config "$cfg" --set data.path="$DATA/mnist.h5" --set train.global_batch=100000 --set train.micro_batch=100000
grep -q "fewer than one global batch" "$T/err" || fail "small data: $(cat $T/err)"
# a gpt config pointed at the mnist file: wrong dataset names
expect_exit 4 "$ZT" train --config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/mnist.h5"
grep -q "mnist.h5" "$T/err" || fail "wrong kind: $(cat $T/err)"
echo "PASS: config and data errors are named and exit with the documented codes"
