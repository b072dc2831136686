#!/usr/bin/env bash
# resume_changes.sh — resuming with a changed config.
#  - a different model, train.global_batch or train.micro_batch: exit 2 on
#    every rank, listing each difference (old -> new), the checkpoint untouched;
#  - a changed schedule (steps, lr, warm-up, floor, schedule): one line naming
#    old -> new and the learning rate at the resume step under both, checked
#    here against the closed form; the run then follows the new schedule;
#  - an unchanged config: no such line.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"    # sgd lr 0.05, cosine, warmup 0, floor 0.1, 4 steps, batch 24/2
d="$T/ck"
base=(--config "$cfg" --set data.path="$DATA/mnist.h5" --set ckpt.dir="$d" --set ckpt.keep_last=0)
rc=0; run_w 2 train "${base[@]}" --set train.steps=8 --stop-at 2 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "first leg exited $rc, want 3"; }
[ "$(cat "$d/latest")" = step-00000002 ] || fail "latest is $(cat "$d/latest")"

# keys a checkpoint cannot follow
expect_exit 2 run_w 2 train "${base[@]}" --set train.steps=8 --set model.hidden=64,16 \
    --set train.global_batch=48 --set train.micro_batch=4
for r in 0 1; do
  grep "rank $r: config error: cannot resume from $d/step-00000002" "$T/err" >"$T/line" \
      || { cat "$T/err"; fail "rank $r: no resume error"; }
  for diff in "model.hidden 32,16 -> 64,16" "train.global_batch 24 -> 48" "train.micro_batch 2 -> 4"; do
    grep -qF "$diff" "$T/line" || fail "rank $r: '$diff' not listed: $(cat "$T/line")"
  done
done
grep -q "step " "$T/out" && fail "trained after the error: $(cat "$T/out")"
[ "$(cat "$d/latest")" = step-00000002 ] && [ "$(ls "$d" | grep -c step-)" = 1 ] || fail "checkpoint dir changed: $(ls "$d")"
expect_exit 2 run_w 2 train "${base[@]}" --set train.steps=8 --set model.name=gpt --set data.path="$DATA/fortunes.h5"
grep -q "model.name mlp -> gpt" "$T/err" || fail "model change not named: $(cat "$T/err")"
echo "fixed keys: exit 2 listing model.hidden, train.global_batch, train.micro_batch, model.name"

# an unchanged config: no schedule line (a fresh copy of the checkpoint, so
# the next case still resumes from step 2)
cp -a "$d" "$T/same"
run_w 2 train "${base[@]}" --set ckpt.dir="$T/same" --set train.steps=8 >"$T/log" 2>&1 || { cat "$T/log"; fail "plain resume"; }
grep -q "resumed from .*step-00000002" "$T/log" || { cat "$T/log"; fail "did not resume"; }
grep -q "schedule changed" "$T/log" && fail "schedule line without a change: $(grep schedule "$T/log")"

# a changed schedule: 8 -> 12 steps, lr 0.05 -> 0.08, linear with 1 warm-up step
run_w 2 train "${base[@]}" --set train.steps=12 --set optim.lr=0.08 --set optim.schedule=linear \
    --set optim.warmup_steps=1 --set log.metrics="$T/m.jsonl" >"$T/log" 2>&1 || { cat "$T/log"; fail "schedule resume"; }
line=$(grep "learning-rate schedule changed since the checkpoint" "$T/log") || { cat "$T/log"; fail "no schedule line"; }
echo "$line"
for diff in "train.steps 8 -> 12" "optim.schedule cosine -> linear" "optim.warmup_steps 0 -> 1" "optim.lr 0.05 -> 0.08"; do
  grep -qF "$diff" <<<"$line" || fail "'$diff' not named"
done
[ "$(grep -c "schedule changed" "$T/log")" = 1 ] || fail "the schedule line is printed more than once"
"$PY" - "$line" "$T/m.jsonl" <<'PY' || fail "learning rates"
import json, math, re, sys
m = re.search(r"lr at step (\d+): (\S+) -> (\S+)$", sys.argv[1])
step, before, after = int(m.group(1)), float(m.group(2)), float(m.group(3))
assert step == 2, step
# old: cosine, lr 0.05, 8 steps, floor 0.1: 0.05 (0.1 + 0.9 (1 + cos(pi 2/8)) / 2)
want_before = 0.05 * (0.1 + 0.9 * (1 + math.cos(math.pi * 2 / 8)) / 2)
# new: linear after 1 warm-up step, lr 0.08, 12 steps: 0.08 (0.1 + 0.9 (1 - (2-1)/(12-1)))
want_after = 0.08 * (0.1 + 0.9 * (1 - 1 / 11))
assert abs(before - want_before) < 1e-5 * want_before, (before, want_before)
assert abs(after - want_after) < 1e-5 * want_after, (after, want_after)
# and the run followed the new schedule: the lr of update s (record step s+1)
recs = [json.loads(l) for l in open(sys.argv[2]) if '"lr"' in l]
assert [r["step"] for r in recs] == list(range(3, 13)), [r["step"] for r in recs]
for r in recs:
    s = r["step"] - 1
    want = 0.08 * (0.1 + 0.9 * (1 - (s - 1) / 11))
    assert abs(r["lr"] - want) < 1e-6, (r["step"], r["lr"], want)
print(f"lr at step 2: {before:.6g} (cosine/8) -> {after:.6g} (linear/12), as computed here; steps 3-12 follow it")
PY
echo "PASS: resume refuses model/batch changes (exit 2, listed) and reports schedule changes with the lr at the resume step"
