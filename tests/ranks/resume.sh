#!/usr/bin/env bash
# resume.sh MODEL — DESIGN invariant 2. Stop at step 3 (checkpoint + exit 3),
# resume to step 6:
#  - same W and stage: bit-identical to an uninterrupted run;
#  - another W / stage (4->2, 2->3, 1->4, stage 3->1, 0->2): within 1e-5 of it.
. "$(dirname "$0")/lib.sh"
model=$1
cfg="$SRC/tests/ranks/tiny_$model.ini"
ds="$DATA/mnist.h5"; [ "$model" = gpt ] && ds="$DATA/fortunes.h5"
common=(--config "$cfg" --set data.path="$ds" --set train.steps=6 --set ckpt.keep_last=0)

# uninterrupted references at (W, stage)
ref() { run_w "$1" train "${common[@]}" --set train.zero_stage="$2" --dump-params "$T/ref-$1-$2.bin" >"$T/log" 2>&1 \
        || { cat "$T/log"; fail "reference W=$1 stage=$2"; }; }
# interrupted: W1/s1 to step 3, then W2/s2 to the end
interrupted() {
  local w1=$1 s1=$2 w2=$3 s2=$4 d="$T/ck-$1$2$3$4" rc=0
  run_w "$w1" train "${common[@]}" --set train.zero_stage="$s1" --set ckpt.dir="$d" --stop-at 3 >"$T/log" 2>&1 || rc=$?
  [ $rc = 3 ] || { cat "$T/log"; fail "first leg W=$w1 stage=$s1 exited $rc, want 3 (stopped, resumable)"; }
  [ "$(cat "$d/latest")" = step-00000003 ] || fail "latest is $(cat "$d/latest")"
  run_w "$w2" train "${common[@]}" --set train.zero_stage="$s2" --set ckpt.dir="$d" \
      --dump-params "$T/res-$1$2$3$4.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "resume W=$w2 stage=$s2"; }
  grep -q "resumed from .*step-00000003 (step 3, written by W=$w1 stage $s1; now W=$w2 stage $s2)" "$T/log" \
      || { cat "$T/log"; fail "did not resume from step 3"; }
}
ref 1 0; ref 2 1; ref 3 2
for case in "2 1 2 1" "3 2 3 2"; do
  set -- $case; interrupted "$@"
  echo -n "exact resume W=$1 stage=$2: "; cmp_params "$T/ref-$1-$2.bin" "$T/res-$1$2$3$4.bin" 0 --exact \
      || fail "resume at the same W and stage is not bit-identical"
done
# an asynchronous checkpoint (snapshot taken while the next step computes)
# resumes bit-identically too
run_w 2 train "${common[@]}" --set train.zero_stage=1 --set ckpt.dir="$T/async" --set ckpt.every=3 \
    --set ckpt.async=true >"$T/log" 2>&1 || { cat "$T/log"; fail "async run"; }
grep -q "step-00000003 committed (.*async" "$T/log" || { cat "$T/log"; fail "no async checkpoint at step 3"; }
run_w 2 train "${common[@]}" --set train.zero_stage=1 --set ckpt.resume="$T/async/step-00000003" \
    --dump-params "$T/res-async.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "resume from the async checkpoint"; }
echo -n "resume from an async checkpoint (W=2 stage 1): "
cmp_params "$T/ref-2-1.bin" "$T/res-async.bin" 0 --exact || fail "async checkpoint resume is not bit-identical"
for case in "4 0 2 0" "2 0 3 0" "1 0 4 0" "2 3 2 1" "2 0 2 2"; do
  set -- $case; interrupted "$@"
  echo -n "resume W=$1/stage $2 -> W=$3/stage $4: "; cmp_params "$T/ref-1-0.bin" "$T/res-$1$2$3$4.bin" 1e-5 \
      || fail "resume across W/stage out of tolerance"
done
echo "PASS: $model exact and resharded resume"
