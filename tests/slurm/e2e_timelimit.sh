#!/usr/bin/env bash
# e2e_timelimit.sh — the real time-limit path: sbatch --time=1 --signal=USR2@15
# (HUGE steps: only Slurm's warning signal ends the first run; the test sends
# nothing) -> every rank checkpoints step S1 and exits 3 -> train.sbatch
# requeues -> the requeued run resumes from S1: its "resumed from" line and
# its own metrics (summary step - steps_run) say it started at S1. A warning
# signal then ends the resumed run early (MAX_RESTARTS=1: not requeued again)
# instead of waiting for its second time limit.
#
# Why @15 and not @40: slurmctld checks time limits every 30 s
# (PERIODIC_TIMEOUT) and sends the warning at the first check where
# now + T + 30 >= end (send_job_warn_signal, Slurm 22.05). With --time=1 and
# T=40 that is the first check after the job starts, which may come before
# srun has started the step: the signal then reaches no task, is never sent
# again, and the job runs into its limit (seen here: SIGTERM at 60 s). With
# T=15 the warning comes 15-45 s after the start, the step is up by then, and
# the next check (the one that could kill the job) is 30 s later still.
# Wall time ~1-1.5 min: the requeued job starts ~25-30 s after the requeue.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
out=$W_DIR/job.out met=$W_DIR/metrics.jsonl
export CONFIG="$SRC/configs/mnist_mlp.ini" MAX_RESTARTS=1 \
  SETS="--set data.path=$DATA/mnist.h5 --set train.steps=$HUGE --set ckpt.every=0 --set eval.every=0 \
--set log.every=1000 --set ckpt.dir=$W_DIR/ckpt --set log.metrics=$met"
t0=$(date +%s.%N)
jid=$(submit --nodes=1 --ntasks-per-node=2 --time=1 --signal=USR2@15 --output="$out" "$SRC/sbatch/train.sbatch") \
   || fail "sbatch"
echo "submitted job $jid (--time=1 --signal=USR2@15)"
wait_for 150 grep -q "requeueing (the next" "$out" || { scontrol show job "$jid"; fail "no stop + requeue before the time limit"; }
echo "time-limit warning -> checkpoint -> exit 3 -> requeue after $(secs_since "$t0") s"
s1=$(stop_step "$out" 1)
[ -n "$s1" ] || fail "ranks did not agree to stop on the warning signal"
grep -q "checkpoint step-$(printf %08d "$s1") committed" "$out" || fail "no checkpoint of step $s1 committed"
wait_for 150 grep -q "resumed from " "$out" || { scontrol show job "$jid"; fail "requeued job did not resume"; }
echo "requeued run resumed after $(secs_since "$t0") s"
grep -q "resumed from .*ckpt/step-$(printf %08d "$s1") (step $s1, " "$out" || fail "did not resume from the step-$s1 checkpoint"
[ "$(scontrol show job "$jid" | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')" = 1 ] || fail "Slurm does not count one restart"
signal_job "$jid" || fail "scancel --signal (resumed run)"
wait_for 60 grep -q "restart limit 1 reached: not requeueing" "$out" || fail "resumed run did not stop on the signal"
s2=$(stop_step "$out" 2)
# the job's own metrics: one summary per run; the second run began at S1
"$PY" - "$met" "$s1" "$s2" <<'PYEOF' || fail "metrics do not show a resume at step $s1"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
s1, s2 = int(sys.argv[2]), int(sys.argv[3])
summ = [r for r in rows if r.get("summary")]
assert len(summ) == 2, f"want 2 run summaries, got {len(summ)}"
a, b = summ
assert a["stopped"] and a["step"] == s1 and a["steps_run"] == s1, f"first run: {a}"
assert b["stopped"] and b["step"] == s2 and b["step"] - b["steps_run"] == s1, f"second run: {b}"
assert s2 > s1
print(f"metrics: run 1 steps 1..{s1} (stopped), run 2 steps {s1 + 1}..{s2} (stopped)")
PYEOF
grep -E "job $jid restart|resumed from|stop signal" "$out"
echo "PASS: --time=1 --signal=USR2@15 -> checkpoint at $s1 -> requeue -> resumed at $s1 in $(secs_since "$t0") s"
