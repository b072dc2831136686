#!/usr/bin/env bash
# e2e_nodeloss.sh — issue 6 test 3 on two simulated nodes (n1, n2): a job with
# --nodes=1-2 --ntasks-per-node=2 runs 4 ranks over n1 and n2; every task on
# n2 is SIGKILLed and n2's slurmd stopped (node loss) -> the step ends within
# 60 s -> the job resubmits itself, runs on n1 alone with 2 ranks, resumes from the
# last checkpoint and finishes; its parameters match an uninterrupted W=4 run
# within the W-invariance tolerance (1e-5).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 2
sets="--set data.path=$DATA/mnist.h5 --set train.steps=2000 --set train.global_batch=64 --set train.micro_batch=16 \
--set ckpt.every=100 --set eval.every=0 --set log.every=100 --set ckpt.dir=$W_DIR/ckpt --set log.metrics= \
--dump-params $W_DIR/final.bin"
env -u SLURM_JOB_ID "$SRC/launcher/ztrain-launch" -n 4 -- "$ZT" train --config "$SRC/configs/mnist_mlp.ini" \
   ${sets//$W_DIR\/ckpt/$W_DIR\/refck} --dump-params "$W_DIR/ref.bin" >"$W_DIR/ref.log" 2>&1 || fail "reference W=4"
export CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$sets"
jid=$(submit --nodes=1-2 --ntasks-per-node=2 --output="$W_DIR/job.out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 60 grep -q "4 tasks" "$W_DIR/job.out" || fail "job did not start on 2 nodes / 4 tasks"
wait_for 60 test -f "$W_DIR/ckpt/latest" || fail "no checkpoint"
pids=($(rank_pids "$W_DIR/ckpt")); on_n2=()
for p in "${pids[@]}"; do [ "$(node_of $p)" = n2 ] && on_n2+=("$p"); done
[ ${#pids[@]} = 4 ] && [ ${#on_n2[@]} = 2 ] || fail "expected 4 ranks, 2 on n2; found ${#pids[@]}, ${#on_n2[@]} on n2"
t0=$(date +%s.%N)
kill -KILL "${on_n2[@]}"                       # the node's tasks die with it
"$CLUSTER" kill-node n2 || fail "could not stop n2's slurmd"
wait_for 60 all_dead "${pids[@]}" || fail "ranks alive 60 s after node loss"
dt=$(secs_since "$t0")
echo "node n2 lost (${#on_n2[@]} tasks killed): step ended after $dt s (limit 60 s)"
wait_for 30 grep -q "resubmitting" "$W_DIR/job.out" || fail "the batch script did not resubmit"
# Slurm marks a silent node DOWN after SlurmdTimeout; do now what it would do
# then, so the resubmitted job can only get n1
scontrol update NodeName=n2 State=DOWN Reason="e2e node loss" || fail "scontrol update n2"

wait_for 150 grep -q "training finished" "$W_DIR/job.out" || { scontrol show job; sinfo; tail -30 $ZT_SLURM_DIR/log/slurmctld.log; fail "requeued job did not finish on n1"; }
grep -q "restart 1: start on n1 (1 node(s), 2 tasks)" "$W_DIR/job.out" || fail "restart did not run on n1 with 2 tasks"
grep -q "written by W=4 stage 0; now W=2 stage 0" "$W_DIR/job.out" || fail "did not resume the W=4 checkpoint at W=2"
grep -E "restart|resumed from" "$W_DIR/job.out"
"$PY" "$SRC/tests/ranks/cmp_params.py" "$W_DIR/ref.bin" "$W_DIR/final.bin" 1e-5 || fail "final parameters out of tolerance"
echo "PASS: node loss -> step ended in $dt s -> resubmitted, ran on n1 with 2 ranks -> finished within tolerance"
