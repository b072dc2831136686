#!/usr/bin/env bash
# ckpt_lock.sh — one job per ckpt.dir.
#  1. While another job holds ckpt.dir/.lock (here: this test, with flock(1),
#     having written the holder line the way ztrain does), a 2-rank job exits
#     2 at once on every rank, naming the holder, and leaves the dir alone.
#  2. Once the holder is gone, the same job runs and the lock file names it.
#  3. A job killed with SIGKILL leaves the file but no lock: the next job runs.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
base=(--config "$cfg" --set data.path="$DATA/mnist.h5" --set log.every=1)

# 1. the test is the first job: it holds the lock until it closes fd 9
d="$T/ck"; mkdir -p "$d"
exec 9>"$d/.lock"
flock -n 9 || fail "could not take the lock for the test"
echo "job 4242.0 host testhost pid $$" >&9
expect_exit 2 run_w 2 train "${base[@]}" --set ckpt.dir="$d"
for r in 0 1; do
  grep -q "rank $r: config error: ckpt.dir $d is in use by job 4242.0 on host testhost (pid $$)" "$T/err" \
      || { cat "$T/out" "$T/err"; fail "rank $r did not name the holder"; }
done
grep -q "step " "$T/out" && fail "the second job trained: $(cat "$T/out")"
[ "$(ls -A "$d")" = .lock ] || fail "the second job touched the dir: $(ls -A "$d")"
[ "$(cat "$d/.lock")" = "job 4242.0 host testhost pid $$" ] || fail "the second job rewrote the lock file: $(cat "$d/.lock")"
echo "locked: both ranks exited 2 naming job 4242.0, dir untouched"

# 2. holder gone: the job runs, and names itself in the file
exec 9>&-
run_w 2 train "${base[@]}" --set ckpt.dir="$d" >"$T/log" 2>&1 || { cat "$T/log"; fail "job after the lock was released"; }
grep -Eq "^job [^ ]+ host $(hostname) pid [0-9]+$" "$d/.lock" || fail "lock file: $(cat "$d/.lock")"
[ -f "$d/latest" ] || fail "no checkpoint written"
echo "released: the next job ran ($(cat "$d/.lock"))"

# 3. SIGKILL: start a long job, wait for the event it reports (its first
#    progress line: it holds the lock by then), kill -9 it, run the next one
d2="$T/ck2"
"$ZT" train "${base[@]}" --set ckpt.dir="$d2" --set train.steps=100000000 >"$T/long" 2>&1 & pid=$!
for _ in $(seq 1200); do   # up to 120 s for the first step (a safety net, not a race)
  grep -q "step  *1/" "$T/long" && break
  kill -0 $pid 2>/dev/null || { cat "$T/long"; fail "the long job ended before its first step"; }
  sleep 0.1
done
grep -q "step  *1/" "$T/long" || { cat "$T/long"; fail "no first step within 120 s"; }
grep -q "pid $pid\$" "$d2/.lock" || fail "lock file does not name the long job: $(cat "$d2/.lock")"
kill -KILL $pid; rc=0; wait $pid || rc=$?
[ $rc = 137 ] || fail "the long job exited $rc before the SIGKILL (want 137)"
grep -q "pid $pid\$" "$d2/.lock" || fail "the stale file should still name the killed job"
run_w 2 train "${base[@]}" --set ckpt.dir="$d2" --set train.steps=2 >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "a stale lock file (killed job) blocked the next job"; }
echo "stale: after kill -9 of pid $pid the next job ran"
echo "PASS: ckpt.dir lock: busy -> exit 2 naming the holder on every rank; released and stale locks do not block"
