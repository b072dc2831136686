#!/bin/bash
# bench/cost_measure.sh [BUILD_DIR] [OUT_DIR] — measures on this machine what
# bench/cost_model.py needs, one file per kind under OUT_DIR (default
# bench/results/cost), then runs the model's validation: real `ztrain train` runs at
# W = 1..4 (DDP and ZeRO-3) whose step times the model must predict.
#   layers.txt  forward/backward ms of every unit (cost_bench layers): the
#               validation GPT, the MNIST MLP, one block + embeddings + head at
#               gpt2 (C=768) and gpt2-medium (C=1024) widths, T=256
#   optim.txt   AdamW ns per parameter (cost_bench optim)
#   comm.txt    all-reduce, reduce-scatter, all-gather 4 KB-256 MB at W=2
#               (mpirun cost_bench comm; the model fits alpha + bytes/beta)
#   ckpt.txt    checkpoint write / read+reshard MB/s next to dd (ckpt_bench)
#   runs/       metrics of the W=1..4 validation runs (step_ms per step)
# The machine is shared with other work: the header of every file records
# the load average; figures from a loaded machine are noisy and slow.
# Env: QUICK=1 skips the gpt2-width layers; RUNS=0 skips the validation runs.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
out=${2:-$here/results/cost}
bench=$build/bench/cost_bench
zt=$build/trainer/ztrain
for b in "$bench" "$zt" "$build/bench/ckpt_bench"; do
  [ -x "$b" ] || { echo "cost_measure.sh: $b not built (cmake --build $build)" >&2; exit 2; }
done
data=${DATA:-$build/testdata}
[ -f "$data/fortunes.h5" ] || { echo "cost_measure.sh: $data/fortunes.h5 missing (ctest -R data_prepare)" >&2; exit 2; }
mkdir -p "$out/runs"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
hdr() { echo "# $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores; $(date -u +%FT%TZ); load $(cut -d' ' -f1-3 /proc/loadavg) (shared machine)"; }
vocab=$(/usr/bin/python3 -c "import h5py,sys; print(int(h5py.File(sys.argv[1]).attrs['vocab_size']))" "$data/fortunes.h5")
# the validation model: the fortunes GPT, wider so communication is visible
VAL="--vocab $vocab --ctx 64 --d_model 128 --n_layer 4 --n_head 4"

echo "== layers"
{
  hdr
  for t in 1 2; do
    "$bench" layers gpt $VAL --batch 4 --threads $t --reps 7
    "$bench" layers mlp --batch 64 --threads $t --reps 15
  done
  if [ "${QUICK:-0}" != 1 ]; then
    # one block at each width (the others are identical), T=256, one row
    "$bench" layers gpt --vocab 50257 --ctx 256 --d_model 768 --n_layer 1 --n_head 12 --batch 1 --threads 2 --reps 3 |
      sed 's/^layer model=gpt/layer model=gpt2w/'
    "$bench" layers gpt --vocab 50257 --ctx 256 --d_model 1024 --n_layer 1 --n_head 16 --batch 1 --threads 2 --reps 3 |
      sed 's/^layer model=gpt/layer model=gpt2mw/'
  fi
} | tee "$out/layers.txt"

echo "== optim"
{ hdr; "$bench" optim --n 4194304 --reps 7; } | tee "$out/optim.txt"

echo "== comm (W=2)"
{ hdr; mpirun --oversubscribe --bind-to none -n 2 "$bench" comm --min 4096 --max 268435456 --seconds 0.3; } | tee "$out/comm.txt"

echo "== checkpoint"
ck=$(mktemp -d /tmp/zt-cost-ck.XXXXXX)
{ hdr; "$build/bench/ckpt_bench" --dir "$ck" --mb 96 --W 2 --Wp 2 --reps 2 2>/dev/null; } | tee "$out/ckpt.txt"
rm -rf "$ck"

[ "${RUNS:-1}" = 0 ] && exit 0
echo "== validation runs (W = 1..4, stage 0 and 3)"
hdr >"$out/runs/README"
for stage in 0 3; do
  for W in 1 2 3 4; do
    m=$out/runs/w${W}_s${stage}.jsonl; rm -f "$m"
    t=$(mktemp -d /tmp/zt-cost-run.XXXXXX)
    env -u SLURM_JOB_ID "$here/../launcher/ztrain-launch" -n "$W" -- "$zt" train \
      --config "$here/../configs/fortunes_gpt.ini" --set data.path="$data/fortunes.h5" \
      --set model.d_model=128 --set model.n_layer=4 --set train.global_batch=48 --set train.micro_batch=4 \
      --set train.zero_stage=$stage --set train.bucket_mb=0.25 --set train.steps=25 --set log.every=5 \
      --set eval.every=0 --set ckpt.every=0 --set ckpt.dir="$t/ck" --set log.metrics="$m" >"$t/log" 2>&1 ||
      { tail -5 "$t/log"; echo "run W=$W stage $stage failed" >&2; }
    grep -m1 "BLAS threads" "$t/log" | sed 's/.*| //' | sed "s/^/W=$W stage=$stage: /" >>"$out/runs/README"
    rm -rf "$t"
    echo "W=$W stage $stage: $(grep -c step_ms "$m" 2>/dev/null) step records"
  done
done
