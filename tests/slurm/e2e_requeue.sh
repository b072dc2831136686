#!/usr/bin/env bash
# e2e_requeue.sh — the warning-signal path on the real one-node cluster:
# sbatch the training template (W=2, HUGE steps: only a signal ends it); once
# the job reports step 100, deliver the warning signal (scancel --signal=USR2,
# as --signal=USR2@T would) -> every rank checkpoints step S1 and exits 3 ->
# the batch script requeues -> the job resumes from step S1; once it reports
# that, a second signal stops it at S2 and, with MAX_RESTARTS=1, the script
# does not requeue again. Its parameters at S2 are bit-identical to an
# uninterrupted run at the same W stopped after step S2.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
cfg=(--config "$SRC/configs/mnist_mlp.ini")
base="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set ckpt.every=0 --set eval.every=0 \
--set log.every=100 --set log.metrics="
out=$W_DIR/job.out
jid=$(CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$base --set ckpt.dir=$W_DIR/ckpt --dump-params $W_DIR/final.bin" \
      MAX_RESTARTS=1 submit --nodes=1 --ntasks-per-node=2 --output="$out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
echo "submitted job $jid"
wait_for 120 grep -q "step .*100/$HUGE" "$out" || fail "job did not start training"
t0=$(date +%s.%N)
signal_job "$jid" || fail "scancel --signal"
wait_for 60 grep -q "requeueing (the next" "$out" || fail "no requeue after the signal"
echo "signal -> checkpoint -> requeue in $(secs_since "$t0") s"
s1=$(stop_step "$out" 1)
[ -n "$s1" ] || fail "ranks did not agree to stop"
grep -q "checkpoint step-$(printf %08d "$s1") committed" "$out" || fail "no checkpoint of step $s1 committed"
# the requeued run: it must resume from S1, then a second signal ends it
wait_for 180 grep -q "resumed from " "$out" || fail "requeued job did not resume"
grep -q "resumed from .*ckpt/step-$(printf %08d "$s1") (step $s1, written by W=2" "$out" \
   || fail "did not resume from the step-$s1 checkpoint"
signal_job "$jid" || fail "scancel --signal (resumed run)"
wait_for 60 grep -q "restart limit 1 reached: not requeueing" "$out" || fail "resumed run did not stop on the second signal"
s2=$(stop_step "$out" 2)
[ -n "$s2" ] && [ "$s2" -gt "$s1" ] || fail "resumed run stopped at '$s2', want a step after $s1"
grep -q "restart 1: start" "$out" || fail "no restart recorded"
grep -E "job $jid restart|resumed from|stop signal" "$out"
# reference: the same run uninterrupted at W=2 (mpirun), stopped after S2
ref_run 2 "$s2" "$W_DIR/ref.bin" "$W_DIR/ref.log" "${cfg[@]}" $base --set ckpt.dir="$W_DIR/refck" || fail "reference run"
"$PY" "$SRC/tests/ranks/cmp_params.py" "$W_DIR/ref.bin" "$W_DIR/final.bin" 0 --exact \
   || fail "requeued run differs from the uninterrupted run"
echo "PASS: signal at step $s1 -> checkpoint -> requeue -> resumed at $s1 -> stopped at $s2, bit-identical"
