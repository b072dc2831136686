#!/usr/bin/env bash
# e2e_crash.sh — issue 6 test 2: SIGKILL one rank of a running sbatch job ->
# the step ends within 60 s (measured) -> resubmitted with a different number
# of tasks (3 -> 2), the job resumes from the last complete checkpoint and
# finishes.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
sets="--set data.path=$DATA/mnist.h5 --set train.steps=3000 --set train.global_batch=48 --set train.micro_batch=8 \
--set ckpt.every=100 --set eval.every=0 --set log.every=100 --set ckpt.dir=$W_DIR/ckpt --set log.metrics="
export CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$sets" MAX_RESTARTS=0
jid=$(submit --nodes=1 --ntasks-per-node=3 --output="$W_DIR/job1.out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 60 test -f "$W_DIR/ckpt/latest" || fail "no checkpoint written"
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
ck=$(cat "$W_DIR/ckpt/latest"); echo "last complete checkpoint: $ck"
jid2=$(submit --nodes=1 --ntasks-per-node=2 --output="$W_DIR/job2.out" "$SRC/sbatch/train.sbatch") || fail "sbatch 2"
wait_for 120 grep -q "training finished" "$W_DIR/job2.out" || fail "resubmitted job did not finish"
grep -q "resumed from .*$ck (step [0-9]*, written by W=3 stage 0; now W=2 stage 0)" "$W_DIR/job2.out" \
   || fail "did not resume from $ck at W=2"
grep "resumed from" "$W_DIR/job2.out"
echo "PASS: rank killed -> step ended in $dt s -> resumed at W=2 and finished"
