#!/usr/bin/env bash
# ckpt_robust.sh — DESIGN invariant 4 at the trainer level:
#  1. h5py reads a whole tensor from index.h5 and it equals `ckpt export`;
#  2. a corrupted newest checkpoint is named and the previous one is used;
#  3. SIGKILL of the job at random moments after a commit, during saves (10x):
#     latest verifies, resumes and continues exactly like an uninterrupted run;
#  4. disk full: clear error, exit 5, the previous checkpoint and latest intact;
#  5. a commit that fails on rank 0's committer thread, while training goes
#     on: exit 5 naming the file, latest still on the previous checkpoint.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
base=(--config "$cfg" --set data.path="$DATA/mnist.h5")

# 1. h5py vs export
run_w 2 train "${base[@]}" --set train.zero_stage=3 --set ckpt.dir="$T/a" >"$T/log" 2>&1 || { cat "$T/log"; fail "train"; }
"$ZT" ckpt export "$T/a" "$T/export.h5" >/dev/null || fail "export"
"$PY" - "$T/a/$(cat $T/a/latest)/index.h5" "$T/export.h5" <<'PY' || fail "h5py vs export"
import sys, h5py, numpy as np
idx, exp = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
n = 0
for name in idx["param"]:
    a, b = idx["param"][name][...], exp["param"][name][...]
    assert a.shape == b.shape and np.array_equal(a, b), name
    assert np.abs(a).sum() > 0, f"{name} is all zeros (fill value: a shard was not read?)"
    n += 1
print(f"h5py: {n} tensors read whole from index.h5 (virtual datasets) equal the export")
PY

# 2. corrupt the newest checkpoint: resume must name it and fall back
rc=0; run_w 2 train "${base[@]}" --set ckpt.dir="$T/b" --set ckpt.every=1 --set ckpt.keep_last=3 --stop-at 3 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "--stop-at 3 exited $rc, want 3 (stopped, resumable)"; }
newest="$T/b/$(cat "$T/b/latest")"
[ "$(basename "$newest")" = step-00000003 ] || fail "latest is $newest"
"$PY" -c "
import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); b[len(b)//2]^=0x40; open(p,'wb').write(b)" "$newest/shard-00001-of-00002.h5"
expect_exit 5 "$ZT" ckpt verify "$newest"
grep -q "shard-00001-of-00002.h5" "$T/out" "$T/err" || fail "verify did not name the shard"
run_w 2 train "${base[@]}" --set ckpt.dir="$T/b" >"$T/log" 2>&1 || { cat "$T/log"; fail "fallback resume"; }
grep -q "step-00000003.*shard-00001-of-00002.h5" "$T/log" || { cat "$T/log"; fail "skip not logged with the shard's name"; }
grep -q "resumed from .*step-00000002" "$T/log" || { cat "$T/log"; fail "did not fall back to step 2"; }
echo "corruption: newest named and skipped, resumed from step 2"

# 3. SIGKILL during saves, 10 times. Each job saves every step and is killed
# (mpirun and both ranks at once) only after its own `latest` names step K or
# later (K random in 1..4, plus a random 0-200 ms so the kill lands anywhere in
# a save): every kill lands after a commit, whatever the machine's speed. Then
#  - the job's status must be the SIGKILL's (137): nothing else ended it;
#  - latest verifies, and really loads: a W=2 resume from it runs 2 more steps,
#    exits 0, and its parameters equal (bit for bit) those of an uninterrupted
#    run to the same step. min_lr_frac=1 makes the learning rate flat, so the
#    legs' different train.steps do not change the schedule.
flat=(--set optim.min_lr_frac=1)
step_of() { sed -n 's/^step-0*\([0-9][0-9]*\)$/\1/p' "$1/latest" 2>/dev/null; }
committed() { local s; s=$(step_of "$1"); [ -n "$s" ] && [ "$s" -ge "$2" ]; }
ready() { ! alive "$JOB_PID" || committed "$d" "$K"; }   # step K committed, or the job died
gone() { ! pgrep -f "ztrain train.*$d" >/dev/null; }                     # no rank of the job left
mid_save=0
for i in $(seq 1 10); do
  d="$T/k"; rm -rf "$d"
  K=$((RANDOM % 4 + 1))
  start_w 2 train "${base[@]}" "${flat[@]}" --set train.steps=100000 --set ckpt.dir="$d" \
      --set ckpt.every=1 --set ckpt.keep_last=2 >"$T/log" 2>&1
  wait_for 300 "checkpoint step $K from kill $i's job" ready
  alive "$JOB_PID" || { cat "$T/log"; fail "kill $i: the job ended by itself before step $K was committed"; }
  sleep "0.$(printf '%03d' $((RANDOM % 200)))"
  rc=0; kill_w "$JOB_PID" || rc=$?
  [ $rc = 137 ] || { cat "$T/log"; fail "kill $i: the job exited $rc, not 137 (SIGKILL): something else ended it"; }
  wait_for 30 "exit of kill $i's ranks" gone
  committed "$d" "$K" || fail "kill $i: latest is '$(cat "$d/latest" 2>/dev/null)' after step $K was seen committed"
  L=$(step_of "$d")
  "$ZT" ckpt verify "$d" >"$T/v" 2>&1 || { cat "$T/v"; fail "kill $i: latest does not verify"; }
  tmp=$(find "$d" -maxdepth 1 -name '*tmp*' | wc -l); [ "$tmp" -gt 0 ] && mid_save=$((mid_save + 1))
  # latest loads: resume to L+2 (exit 0) and compare with an uninterrupted run
  run_w 2 train "${base[@]}" "${flat[@]}" --set train.steps=$((L + 2)) --set ckpt.dir="$d" \
      --dump-params "$T/res.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "kill $i: resume from latest (step $L) failed"; }
  grep -q "resumed from .*step-0*$L (step $L," "$T/log" || { cat "$T/log"; fail "kill $i: did not resume from step $L"; }
  [ -f "$T/ref-$L.bin" ] || run_w 2 train "${base[@]}" "${flat[@]}" --set train.steps=$((L + 2)) \
      --dump-params "$T/ref-$L.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "uninterrupted run to step $((L + 2))"; }
  r=$(cmp_params "$T/ref-$L.bin" "$T/res.bin" 0 --exact) || { echo "$r"; fail "kill $i: resume from step $L differs from the uninterrupted run"; }
  echo "kill $i: killed once step $K was committed, exit 137; latest=step $L verifies, resumes to $((L + 2)) bit-identical to an uninterrupted run ($tmp unfinished save dirs left)"
done
echo "SIGKILL: 10 kills after a commit, all resumable and exact; $mid_save of them landed during a save"

# 4. disk full on a 3 MB tmpfs (fallback: RLIMIT_FSIZE via ulimit -f)
mnt="$T/full"; mkdir -p "$mnt"
if mount -t tmpfs -o size=3m tmpfs "$mnt" 2>/dev/null; then
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$T"' EXIT
  big=(--set model.hidden=64 --set optim.name=adamw --set ckpt.dir="$mnt/ck" --set ckpt.every=2 --set ckpt.keep_last=0 --set train.steps=30)
  expect_exit 5 run_w 2 train "${base[@]}" "${big[@]}"
  grep -Eiq "no space|ENOSPC|disk full|No space left" "$T/err" || { cat "$T/err"; fail "disk full: unclear error"; }
  "$ZT" ckpt verify "$mnt/ck" >/dev/null || fail "disk full: latest no longer verifies"
  echo "disk full: exit 5, latest=$(cat $mnt/ck/latest) intact; message: $(grep -im1 'space' $T/err)"
else
  echo "disk full: cannot mount tmpfs here; RLIMIT_FSIZE case is covered by the checkpoint unit tests"
fi

# 5. Rank 0 writes the index and renames the checkpoint into place on its
# committer thread while training goes on. Make that fail: latest.tmp is a
# directory, so latest cannot be replaced. The run resumed from step 2 must
# exit 5 (on every rank, at a later step boundary), name the file, and leave
# latest on step 2, which still verifies; nothing after the failure commits.
run_w 2 train "${base[@]}" --set ckpt.dir="$T/e" --set ckpt.every=1 --set train.steps=2 >"$T/log" 2>&1 ||
  { cat "$T/log"; fail "commit failure: first leg"; }
mkdir "$T/e/latest.tmp"
expect_exit 5 run_w 2 train "${base[@]}" --set ckpt.dir="$T/e" --set ckpt.every=1 --set train.steps=40
grep -q "checkpoint step 3 FAILED: .*latest.tmp" "$T/err" || { cat "$T/out" "$T/err"; fail "commit failure: no line naming latest.tmp at step 3"; }
grep -q "committed" "$T/out" && { cat "$T/out"; fail "commit failure: a later checkpoint was reported committed"; }
[ "$(cat "$T/e/latest")" = step-00000002 ] || fail "commit failure: latest is $(cat "$T/e/latest")"
"$ZT" ckpt verify "$T/e" >/dev/null || fail "commit failure: latest no longer verifies"
echo "background commit failure: exit 5 ($(grep -m1 -o 'FAILED: [^;]*' "$T/err")), latest still step 2"
echo "PASS: checkpoint robustness"
