#!/usr/bin/env bash
# e2e_crash.sh — a crashed rank: SIGKILL one rank of a running sbatch job (3
# tasks, HUGE steps: it cannot end on its own) once a checkpoint is committed
# -> the step ends within 60 s -> with MAX_RESTARTS=0 the script does not
# requeue -> resubmitted by hand with a different number of tasks (3 -> 2),
# the job resumes from the last complete checkpoint and trains on; a warning
# signal after it reports the resume stops it past that step.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
sets="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set train.global_batch=48 --set train.micro_batch=8 \
--set ckpt.every=100 --set eval.every=0 --set log.every=100 --set ckpt.dir=$W_DIR/ckpt --set log.metrics="
export CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$sets" MAX_RESTARTS=0
jid=$(submit --nodes=1 --ntasks-per-node=3 --output="$W_DIR/job1.out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 120 grep -q "checkpoint step-[0-9]* committed" "$W_DIR/job1.out" || fail "no checkpoint committed"
pids=($(rank_pids "$W_DIR/ckpt"))
[ ${#pids[@]} = 3 ] || fail "expected 3 rank processes, found ${#pids[@]}"
victim=${pids[2]}
t0=$(date +%s.%N)
kill -KILL "$victim"
wait_for 60 all_dead "${pids[@]}" || fail "ranks still alive 60 s after the kill"
dt=$(secs_since "$t0")
echo "SIGKILL of rank pid $victim: every rank gone after $dt s (limit 60 s)"
wait_for 30 grep -q "not requeueing" "$W_DIR/job1.out" || fail "batch script did not stop after the failure"
grep -E "step failed|not requeueing" "$W_DIR/job1.out"
grep -q "stopped on the warning signal" "$W_DIR/job1.out" && fail "the job stopped on a signal, not on the crash"
ck=$(cat "$W_DIR/ckpt/latest"); echo "last complete checkpoint: $ck"
ckstep=$((10#${ck#step-}))
jid2=$(submit --nodes=1 --ntasks-per-node=2 --output="$W_DIR/job2.out" "$SRC/sbatch/train.sbatch") || fail "sbatch 2"
wait_for 120 grep -q "resumed from" "$W_DIR/job2.out" || fail "resubmitted job did not resume"
grep -q "resumed from .*$ck (step $ckstep, written by W=3 stage 0; now W=2 stage 0)" "$W_DIR/job2.out" \
   || fail "did not resume from $ck at W=2"
signal_job "$jid2" || fail "scancel --signal"
wait_for 60 grep -q "restart limit 0 reached: not requeueing" "$W_DIR/job2.out" || fail "resumed job did not stop on the signal"
s2=$(stop_step "$W_DIR/job2.out")
[ -n "$s2" ] && [ "$s2" -gt "$ckstep" ] || fail "resumed job stopped at '$s2', want a step after $ckstep"
grep -E "resumed from|stop signal" "$W_DIR/job2.out"
echo "PASS: rank killed -> step ended in $dt s -> resumed $ck at W=2 -> trained on to step $s2"
