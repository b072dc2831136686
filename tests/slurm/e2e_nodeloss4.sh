#!/usr/bin/env bash
# e2e_nodeloss4.sh — node loss on four simulated nodes (n1..n4): a job with
# --nodes=4 --ntasks-per-node=2 runs 8 ranks (HUGE steps: it cannot end on
# its own); once a checkpoint is committed every task on n4 is SIGKILLed and
# n4's slurmd killed (node loss) -> the step ends -> train.sbatch resubmits
# itself, Slurm grants the 3 nodes left (6 ranks) and the new run resumes the
# W=8 checkpoint at W=6 from the last checkpoint committed before the loss;
# then a warning signal stops it (MAX_RESTARTS=1). global_batch 48 with
# micro_batch 2 divides both W=8 (3 micro-batches) and W=6 (4).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 4
trap 'cleanup_e2e; "$CLUSTER" revive-node n4 >/dev/null 2>&1' EXIT
base="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set train.global_batch=48 --set train.micro_batch=2 \
--set ckpt.every=20 --set eval.every=0 --set log.every=100 --set log.metrics="
out=$W_DIR/job.out
export CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$base --set ckpt.dir=$W_DIR/ckpt" MAX_RESTARTS=1
# exactly 4 nodes first (a min-max range would start on whatever is idle
# at that moment); the resubmission asks for 1-4 and gets the 3 left
jid=$(submit --nodes=4 --ntasks-per-node=2 --output="$out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 120 grep -q "4 node(s), 8 tasks" "$out" || fail "job did not start on 4 nodes / 8 tasks"
wait_for 120 grep -q "checkpoint step-[0-9]* committed" "$out" || fail "no checkpoint committed"
pids=($(rank_pids "$W_DIR/ckpt")); on_n4=()
for p in "${pids[@]}"; do [ "$(node_of $p)" = n4 ] && on_n4+=("$p"); done
[ ${#pids[@]} = 8 ] && [ ${#on_n4[@]} = 2 ] || fail "expected 8 ranks, 2 on n4; found ${#pids[@]}, ${#on_n4[@]} on n4"
kill -KILL "${on_n4[@]}"                       # the node's tasks die with it
"$CLUSTER" kill-node n4 || fail "could not kill n4's slurmd"
# drain it at once (Slurm would notice only after SlurmdTimeout): the
# resubmitted job can only get n1..n3
scontrol update NodeName=n4 State=DRAIN Reason="e2e node loss" || fail "scontrol update n4"
wait_for 60 all_dead "${pids[@]}" || fail "ranks alive 60 s after node loss"
# the last checkpoint committed before the loss: what the new run must resume
last=$(sed -n 's/.*checkpoint step-0*\([0-9][0-9]*\) committed.*/\1/p' "$out" | tail -1)
[ -n "$last" ] || fail "no committed step in $out"
wait_for 30 grep -q "resubmitting" "$out" || fail "the batch script did not resubmit"
wait_for 180 grep -q "resumed from" "$out" || { scontrol show job; sinfo; fail "resubmitted job did not resume"; }
grep -q "restart 1: start on n\[1-3\] (3 node(s), 6 tasks)" "$out" || fail "restart did not run on n[1-3] with 6 tasks"
grep -q "resumed from .*step-0*$last (step $last, written by W=8 stage 0; now W=6 stage 0)" "$out" ||
  fail "did not resume step $last of W=8 at W=6"
jid2=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$out" | tail -1)
[ -n "$jid2" ] && [ "$jid2" != "$jid" ] || fail "no resubmitted job id in $out"
signal_job "$jid2" || fail "scancel --signal $jid2"
wait_for 60 grep -q "restart limit 1 reached: not requeueing" "$out" || fail "resumed job did not stop on the signal"
grep -E "restart|resumed from|stop signal" "$out"
echo "PASS: 4 nodes, n4 lost after step $last was committed -> resubmitted on n[1-3], resumed step $last at W=6"
