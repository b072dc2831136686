#!/usr/bin/env bash
# e2e_nightly.sh — the nightly chain: nightly.sbatch passes `sbatch --test-only`;
# run with its begin time set to now: the first "night" stops early (exit 3,
# checkpoint), resubmits itself (singleton dependency), and the next night
# resumes from the checkpoint and completes the training.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
sbatch --test-only --begin=23:00 "$SRC/sbatch/nightly.sbatch" 2>&1 | tee "$W_DIR/testonly.txt"
grep -q "to start at" "$W_DIR/testonly.txt" || fail "sbatch --test-only rejected nightly.sbatch"
export CONFIG="$SRC/configs/mnist_mlp.ini" NIGHTLY_AT=now \
  SETS="--set data.path=$DATA/mnist.h5 --set train.steps=400 --set eval.every=0 --set ckpt.dir=$W_DIR/ckpt --set log.metrics= --stop-at 150"
jid=$(submit --begin=now "$SRC/sbatch/nightly.sbatch") || fail "sbatch"
echo "night 1: job $jid"
wait_for 180 bash -c "ls $W_DIR/ztrain-nightly-*.out 2>/dev/null | wc -l | grep -q 2" || fail "no second night submitted"
wait_for 180 bash -c "grep -q 'training complete' $W_DIR/ztrain-nightly-*.out" || fail "second night did not complete"
cat "$W_DIR"/ztrain-nightly-*.out | grep -E "nightly job|resumed from|stop signal"
grep -q "resumed from .*step-00000150" "$W_DIR"/ztrain-nightly-*.out || fail "second night did not resume from step 150"
echo "PASS: nightly chain: test-only ok, night 1 stopped and resubmitted, night 2 resumed and completed"
