#!/usr/bin/env bash
# e2e_nodeloss.sh — node loss on two simulated nodes (n1, n2): a job with
# --nodes=1-2 --ntasks-per-node=2 runs 4 ranks over n1 and n2 (HUGE steps: it
# cannot end on its own); once a checkpoint is committed every task on n2 is
# SIGKILLed and n2's slurmd stopped (node loss) -> the step ends within 60 s
# -> the job resubmits itself, runs on n1 alone with 2 ranks and resumes from
# the last checkpoint; once it reports that, a warning signal stops it at step
# S2 (MAX_RESTARTS=1: no further requeue). Its parameters at S2 match an
# uninterrupted W=4 run stopped after S2 bit for bit: train.exact makes the
# sums independent of W, so the result does not depend on how many steps
# each job ran before its signal (in fp32 the W=2/W=4 drift grows with them).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 2
# n2 comes back at the end, whatever happened: later tests and the fixture's
# stop find a whole cluster
trap 'cleanup_e2e; "$CLUSTER" revive-node n2 >/dev/null 2>&1' EXIT
base="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set train.global_batch=64 --set train.micro_batch=16 \
--set ckpt.every=100 --set eval.every=0 --set log.every=100 --set log.metrics= --set train.exact=true"
out=$W_DIR/job.out
export CONFIG="$SRC/configs/mnist_mlp.ini" SETS="$base --set ckpt.dir=$W_DIR/ckpt --dump-params $W_DIR/final.bin" MAX_RESTARTS=1
jid=$(submit --nodes=1-2 --ntasks-per-node=2 --output="$out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 120 grep -q "4 tasks" "$out" || fail "job did not start on 2 nodes / 4 tasks"
wait_for 120 grep -q "checkpoint step-[0-9]* committed" "$out" || fail "no checkpoint committed"
pids=($(rank_pids "$W_DIR/ckpt")); on_n2=()
for p in "${pids[@]}"; do [ "$(node_of $p)" = n2 ] && on_n2+=("$p"); done
[ ${#pids[@]} = 4 ] && [ ${#on_n2[@]} = 2 ] || fail "expected 4 ranks, 2 on n2; found ${#pids[@]}, ${#on_n2[@]} on n2"
t0=$(date +%s.%N)
kill -KILL "${on_n2[@]}"                       # the node's tasks die with it
"$CLUSTER" kill-node n2 || fail "could not stop n2's slurmd"
# Slurm notices a silent node only after SlurmdTimeout; until then it could
# hand n2 to the resubmitted job. Drain it now (running jobs stay; no new
# ones): the resubmitted job can only get n1.
scontrol update NodeName=n2 State=DRAIN Reason="e2e node loss" || fail "scontrol update n2"
wait_for 60 all_dead "${pids[@]}" || fail "ranks alive 60 s after node loss"
dt=$(secs_since "$t0")
echo "node n2 lost (${#on_n2[@]} tasks killed): step ended after $dt s (limit 60 s)"
wait_for 30 grep -q "resubmitting" "$out" || fail "the batch script did not resubmit"
wait_for 180 grep -q "resumed from" "$out" || { scontrol show job; sinfo; tail -30 $ZT_SLURM_DIR/log/slurmctld.log; fail "resubmitted job did not resume on n1"; }
grep -q "restart 1: start on n1 (1 node(s), 2 tasks)" "$out" || fail "restart did not run on n1 with 2 tasks"
grep -q "written by W=4 stage 0; now W=2 stage 0" "$out" || fail "did not resume the W=4 checkpoint at W=2"
# the resubmitted job's id, as sbatch reported it inside the first job
jid2=$(sed -n 's/^Submitted batch job \([0-9]*\)$/\1/p' "$out" | tail -1)
[ -n "$jid2" ] && [ "$jid2" != "$jid" ] || fail "no resubmitted job id in $out"
signal_job "$jid2" || fail "scancel --signal $jid2"
wait_for 60 grep -q "restart limit 1 reached: not requeueing" "$out" || fail "resumed job did not stop on the signal"
s2=$(stop_step "$out")
[ -n "$s2" ] || fail "no stop step"
grep -E "restart|resumed from|stop signal" "$out"
ref_run 4 "$s2" "$W_DIR/ref.bin" "$W_DIR/ref.log" --config "$SRC/configs/mnist_mlp.ini" $base --set ckpt.dir="$W_DIR/refck" \
   || fail "reference W=4"
"$PY" "$SRC/tests/ranks/cmp_params.py" "$W_DIR/ref.bin" "$W_DIR/final.bin" 0 --exact || fail "final parameters differ"
echo "PASS: node loss -> step ended in $dt s -> resubmitted, resumed on n1 with 2 ranks -> stopped at $s2 bit-identical"
