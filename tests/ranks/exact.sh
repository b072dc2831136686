#!/usr/bin/env bash
# exact.sh MODEL — train.exact: the parameters AND optimizer state after N
# steps are the same bytes at every W and ZeRO stage, and across a resume
# chain that changes both; and any W up to k = global_batch / micro_batch
# works (uneven micro-batches per rank) in normal mode too.
#
# global_batch 14, micro 2: k = 7 micro-batches, which W = 2, 3, 4, 5 split
# unevenly (4+3, 3+2+2, 2+2+2+1, 2+2+1+1+1). Compared: `ztrain ckpt export
# --optim` of the final checkpoints, byte for byte (cmp_export.py). The
# tolerance check of the last part is invariance.sh's.
. "$(dirname "$0")/lib.sh"
model=$1
cfg="$SRC/tests/ranks/tiny_$model.ini"
ds="$DATA/mnist.h5"; [ "$model" = gpt ] && ds="$DATA/fortunes.h5"
steps=${EXACT_STEPS:-200}; leg=$((steps / 4))
common=(--config "$cfg" --set data.path="$ds" --set train.global_batch=14 --set train.micro_batch=2
        --set train.steps=$steps --set log.every=$steps --set ckpt.keep_last=1 --set optim.grad_clip=1)
cmp_export() { "$PY" "$SRC/tests/ranks/cmp_export.py" "$@"; }
export_ck() { "$ZT" ckpt export --optim "$1" "$2" >/dev/null 2>&1 || fail "export $1"; }

# exact runs at (W, stage), each to the end, then exported
ex() {
  local w=$1 s=$2 d="$T/ck-$1-$2"; shift 2
  run_w "$w" train "${common[@]}" --set train.exact=true --set train.zero_stage="$s" --set ckpt.dir="$d" "$@" \
      >"$T/log" 2>&1 || { cat "$T/log"; fail "exact W=$w stage=$s"; }
  grep -q "global batch 14 = 7 micro x 2 rows over $w ranks.* | exact" "$T/log" || { cat "$T/log"; fail "W=$w: no exact banner"; }
  export_ck "$d" "$T/ex-$w-$s.h5"
}
ex 1 0 --set ckpt.every=$leg --set ckpt.keep_last=0   # also the chain's first leg (W=1 stage 0)
# W=5 stage 1 with one 1 MB bucket: the bucket split does not matter, and its
# int64 all-reduce (>= 64 KB) takes the comm layer's ring path
for ws in "3 3" "4 2" "5 1 --set train.bucket_mb=1"; do
  set -- $ws; ex "$@"
  echo -n "exact W=$1 stage $2 vs W=1 stage 0: "; cmp_export "$T/ex-1-0.h5" "$T/ex-$1-$2.h5" || fail "W=$1 stage $2 differs"
done

# resume chain: W 1 -> 5 -> 3 -> 2, stages 0 -> 3 -> 1 -> 2, $leg steps each. Leg 1
# is the reference run's own first $leg steps (its step-$leg checkpoint: one
# launch less); legs 2 and 3 end on a stop (exit 3, checkpoint), leg 4 at the end.
d="$T/chain"; prev="1 stage 0"
first="$T/ck-1-0/step-$(printf %08d $leg)"
[ -f "$first/index.h5" ] || fail "the reference run left no step-$leg checkpoint"
# the run moves: the step-$leg state is not the final one (a test that can fail)
export_ck "$first" "$T/leg1.h5"
cmp_export "$T/ex-1-0.h5" "$T/leg1.h5" >/dev/null 2>&1 && fail "training did not change the parameters"
for i in 2 3 4; do
  set -- $(echo "1 0;5 3;3 1;2 2" | cut -d';' -f$i)
  stop=(); [ $i -lt 4 ] && stop=(--stop-at $((i * leg)))
  from=(); [ $i = 2 ] && from=(--set ckpt.resume="$first")
  rc=0
  run_w "$1" train "${common[@]}" --set train.exact=true --set train.zero_stage="$2" --set ckpt.dir="$d" \
      "${from[@]}" "${stop[@]}" >"$T/log" 2>&1 || rc=$?
  want=3; [ $i = 4 ] && want=0
  [ $rc = $want ] || { cat "$T/log"; fail "chain leg $i (W=$1 stage $2) exited $rc, want $want"; }
  grep -q "resumed from .*(step $(((i - 1) * leg)), written by W=$prev; now W=$1 stage $2)" "$T/log" \
      || { cat "$T/log"; fail "chain leg $i did not resume from step $(((i - 1) * leg))"; }
  prev="$1 stage $2"
done
export_ck "$d" "$T/chain.h5"
echo -n "exact resume chain W 1>5>3>2, stages 0>3>1>2, $leg steps each: "
cmp_export "$T/ex-1-0.h5" "$T/chain.h5" || fail "resume chain differs from the uninterrupted W=1 run"

# normal mode (train.exact = false), W=3 with 4 micro-batches per step (2+1+1):
# as close to W=1 as invariance.sh requires. mlp: DDP (uneven local sums);
# gpt: ZeRO-3 (ranks with fewer micro-batches pad the per-micro-batch collectives)
tol=6e-7 s=0; [ "$model" = gpt ] && tol=2e-6 s=3
nm=(--config "$cfg" --set data.path="$ds" --set train.global_batch=8 --set train.micro_batch=2 --set train.steps=40)
run_w 1 train "${nm[@]}" --dump-params "$T/n1.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "normal W=1"; }
run_w 3 train "${nm[@]}" --set train.zero_stage=$s --dump-params "$T/n3.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "normal W=3 stage $s"; }
echo -n "normal W=3 stage $s (4 micro-batches: 2+1+1) vs W=1: "
cmp_params "$T/n1.bin" "$T/n3.bin" $tol || fail "normal mode W=3 stage $s out of tolerance"
echo "PASS: $model exact at W=1,3,4,5 x stages and across a resume chain ($steps steps); any W in normal mode"
