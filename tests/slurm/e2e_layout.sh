#!/usr/bin/env bash
# e2e_layout.sh — ckpt.layout=per-node on two simulated nodes (n1, n2): a job
# of 4 ranks over n1 and n2 (2 per node, HUGE steps) commits checkpoints with
# one shard file per node; a warning signal stops it (MAX_RESTARTS=0). A
# second job on one node with 2 ranks and the per-rank layout resumes from
# that checkpoint; a signal stops it at S2. Its parameters at S2 match an
# uninterrupted W=4 run stopped after S2 bit for bit: train.exact makes the
# sums independent of W, so the result does not depend on how many steps
# each job ran before its signal (in fp32 the W=2/W=4 drift grows with them).
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 2
base="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set train.global_batch=64 --set train.micro_batch=16 \
--set ckpt.every=100 --set eval.every=0 --set log.every=100 --set log.metrics= --set train.exact=true"
ck=$W_DIR/ckpt
out=$W_DIR/job1.out
export CONFIG="$SRC/configs/mnist_mlp.ini" MAX_RESTARTS=0
jid=$(SETS="$base --set ckpt.dir=$ck --set ckpt.layout=per-node" \
      submit --nodes=2 --ntasks-per-node=2 --output="$out" "$SRC/sbatch/train.sbatch") || fail "sbatch"
wait_for 120 grep -q "4 tasks" "$out" || fail "job did not start on 2 nodes / 4 tasks"
wait_for 120 grep -q "checkpoint step-[0-9]* committed" "$out" || fail "no checkpoint committed"
grep -q "ckpt.layout=per-node: 2 shard files for 4 ranks" "$out" || fail "not per-node over 2 nodes"
signal_job "$jid" || fail "scancel --signal $jid"
wait_for 60 grep -q "restart limit 0 reached: not requeueing" "$out" || fail "job did not stop on the signal"
s1=$(stop_step "$out")
[ -n "$s1" ] || fail "no stop step"
step=$ck/$(cat "$ck/latest")
[ "$(cd "$step" && ls shard-*.h5 | tr '\n' ' ')" = "shard-00000-of-00002.h5 shard-00001-of-00002.h5 " ] \
    || fail "$step holds $(ls "$step")"
"$ZT" ckpt verify "$ck" || fail "ckpt verify $ck"
out=$W_DIR/job2.out
jid2=$(SETS="$base --set ckpt.dir=$ck --dump-params $W_DIR/final.bin" \
       submit --nodes=1 --ntasks-per-node=2 --output="$out" "$SRC/sbatch/train.sbatch") || fail "sbatch 2"
wait_for 180 grep -q "resumed from" "$out" || fail "second job did not resume"
grep -q "written by W=4 stage 0; now W=2 stage 0" "$out" || fail "did not resume the per-node W=4 checkpoint at W=2"
signal_job "$jid2" || fail "scancel --signal $jid2"
wait_for 60 grep -q "restart limit 0 reached: not requeueing" "$out" || fail "second job did not stop on the signal"
s2=$(stop_step "$out")
[ -n "$s2" ] && [ "$s2" -gt "$s1" ] || fail "second stop step '$s2' not after $s1"
ref_run 4 "$s2" "$W_DIR/ref.bin" "$W_DIR/ref.log" --config "$SRC/configs/mnist_mlp.ini" $base --set ckpt.dir="$W_DIR/refck" \
   || fail "reference W=4"
"$PY" "$SRC/tests/ranks/cmp_params.py" "$W_DIR/ref.bin" "$W_DIR/final.bin" 0 --exact || fail "final parameters differ"
echo "PASS: per-node on 2 nodes (2 files, stopped at $s1) -> per-rank W=2 on one node -> stopped at $s2 bit-identical"
