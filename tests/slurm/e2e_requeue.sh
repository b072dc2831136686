#!/usr/bin/env bash
# e2e_requeue.sh — issue 6 test 1 on the real one-node cluster: sbatch the
# training template, deliver the warning signal to the tasks mid-run
# (scancel --signal=USR2, as --signal=USR2@T would) -> every rank checkpoints
# and exits 3 -> the batch script requeues -> the job resumes and finishes;
# its final parameters are bit-identical to an uninterrupted run at the same W.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
cfg=(--config "$SRC/configs/mnist_mlp.ini")
sets="--set data.path=$DATA/mnist.h5 --set train.steps=4000 --set ckpt.every=0 --set eval.every=0 \
--set log.every=100 --set ckpt.dir=$W_DIR/ckpt --set log.metrics= --dump-params $W_DIR/final.bin"
# reference: the same run, uninterrupted, W=2 (mpirun)
env -u SLURM_JOB_ID "$SRC/launcher/ztrain-launch" -n 2 -- "$ZT" train "${cfg[@]}" ${sets//$W_DIR\/ckpt/$W_DIR\/refck} \
   --dump-params "$W_DIR/ref.bin" >"$W_DIR/ref.log" 2>&1 || fail "reference run"
jid=$(CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$sets" submit --nodes=1 --ntasks-per-node=2 \
      --output="$W_DIR/job.out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
echo "submitted job $jid"
wait_for 60 grep -q "step .*300/4000" "$W_DIR/job.out" || fail "job did not start training"
t0=$(date +%s.%N)
scancel --signal=USR2 "$jid" || fail "scancel --signal"
wait_for 60 grep -q "requeueing" "$W_DIR/job.out" || fail "no requeue after the signal"
echo "signal -> checkpoint -> requeue in $(secs_since "$t0") s"
grep -q "stop signal received: checkpointing step" "$W_DIR/job.out" || fail "ranks did not agree to stop"
wait_for 150 grep -q "training finished" "$W_DIR/job.out" || fail "requeued job did not finish"
echo "job finished $(secs_since "$t0") s after the signal"
grep -q "restart 1: start" "$W_DIR/job.out" || fail "no restart recorded"
grep -q "resumed from .*ckpt/step-" "$W_DIR/job.out" || fail "did not resume from the checkpoint"
grep -E "job $jid restart|resumed from|stop signal" "$W_DIR/job.out"
"$PY" "$SRC/tests/ranks/cmp_params.py" "$W_DIR/ref.bin" "$W_DIR/final.bin" 0 --exact \
   || fail "requeued run differs from the uninterrupted run"
echo "PASS: warning signal -> checkpoint -> requeue -> bit-identical finish"
