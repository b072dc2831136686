#!/bin/bash
# bench/cnn_torch.sh [BUILD_DIR] — Fashion-MNIST CNN, ztrain vs PyTorch in one
# run: the same network (configs/fashion_cnn.ini; bench/cnn_torch.py), batch
# 64, AdamW, EPOCHS epochs (default 3), evaluation on all 10,000 test images
# after each epoch. Every side is pinned to the same cores (taskset -c $CORES)
# with flush-to-zero: PyTorch with THREADS intra-op threads; ztrain at W=1
# (THREADS BLAS threads) and at W=2 (one BLAS thread per rank). Reports per
# epoch wall time, train images/s and test accuracy, the time to 91%, and
# which convolution kernel PyTorch used (oneDNN = aten::mkldnn_convolution).
# Data: DATA (default data/fashion.h5, from `ztrain data prep idx`).
# Raw output on stdout: keep it with the figures.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); src=$here/..
build=${1:-$src/build}
zt=$build/trainer/ztrain
[ -x "$zt" ] || { echo "cnn_torch.sh: $zt not built" >&2; exit 2; }
py=/usr/bin/python3
DATA=${DATA:-$src/data/fashion.h5}
[ -f "$DATA" ] || { echo "cnn_torch.sh: no $DATA (ztrain data prep idx OUT.h5)" >&2; exit 2; }
THREADS=${THREADS:-2}; CORES=${CORES:-0,1}; EPOCHS=${EPOCHS:-3}
pin() { taskset -c "$CORES" "$@"; }
source "$here/coretype.sh"   # same OpenBLAS kernels on both sides
echo "# $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(getconf _NPROCESSORS_ONLN) cores; $(date -u +%FT%H:%MZ)"
echo "# cores=$CORES threads=$THREADS epochs=$EPOCHS OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}; load before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "## pytorch"
OMP_NUM_THREADS=$THREADS pin $py "$here/cnn_torch.py" "$DATA" --epochs "$EPOCHS" --threads "$THREADS"

spe=$((60000 / 64))
ours() {   # W threads
  local w=$1 t=$2 log; log=$(mktemp)
  echo "## ztrain W=$w ($t BLAS thread(s) per rank)"
  local t0; t0=$(date +%s.%N)
  pin "$src/launcher/ztrain-launch" -n "$w" -- "$zt" train -c "$src/configs/fashion_cnn.ini" \
      --set data.path="$DATA" --set train.steps=$((spe * EPOCHS)) --set eval.every=$spe \
      --set train.threads="$t" --set log.every=100 --set ckpt.dir= --set log.metrics= >"$log" 2>&1 || { cat "$log"; exit 1; }
  # wall seconds since launch for each evaluation line; images/s from the progress lines
  awk -v t0="$t0" -v spe="$spe" '
    function secs(ts,  d, h, m, s) { split(substr(ts, 12, 12), d, ":"); return d[1] * 3600 + d[2] * 60 + d[3] }
    /samples\/s/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "samples/s") { r += $i; nr++ } }
    /eval step/ { match($0, /eval step [0-9]+/); st = substr($0, RSTART + 10, RLENGTH - 10)
                  match($0, /accuracy [0-9.]+/); acc = substr($0, RSTART + 9, RLENGTH - 9)
                  if (!start) start = secs(first)
                  printf "epoch=%d wall_s=%.1f images_per_s=%.0f test_acc=%s\n", st / spe, secs($1) - start, nr ? r / nr : 0, acc; r = 0; nr = 0 }
    NR == 1 { first = $1 }' "$log"
  grep -E "done after|memory per rank|peak" "$log" | head -3 || true
  rm -f "$log"
}
ours 1 "$THREADS"
ours 2 1

# The convolution layers' share of the machine's sgemm rate, through the same
# OpenBLAS: W=2's shape (32 rows per rank, 1 thread, one core) and W=1's (64
# rows, THREADS threads on CORES); model_bench conv counts 2·M·K·Co per GEMM.
mb=$build/bench/model_bench
if [ -x "$mb" ]; then
  echo "## convolution layers vs sgemm"
  first=${CORES%%,*}
  rate() { local o; o=$("$@"); echo "$o" >&3; sed -n 's/.*\(layer=all\|model=sgemm\).*gflops[_best]*=\([0-9.]*\).*/\2/p' <<<"$o"; }
  exec 3>&1
  s1=$(rate taskset -c "$first" "$mb" sgemm --threads 1)
  c1=$(rate taskset -c "$first" "$mb" conv --batch 32 --threads 1)
  c2=$(rate pin "$mb" conv --batch 64 --threads "$THREADS")
  awk -v s="$s1" -v a="$c1" -v b="$c2" -v t="$THREADS" 'BEGIN {
    printf "conv share of one core'"'"'s sgemm (%.1f GFLOP/s): %.0f%% at 32 rows, 1 thread; %.0f%% at 64 rows, %d threads\n", s, 100 * a / s, 100 * b / s, t }'
fi
