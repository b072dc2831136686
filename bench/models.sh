#!/bin/bash
# bench/models.sh [BUILD_DIR] — 1-rank training-step throughput of the mlp and
# gpt models (model_bench, C/OpenBLAS) against PyTorch on the identical
# architecture, batch, thread count and random data (bench/torch_ref.py, with
# Debian's /usr/bin/python3 and python3-torch), measured in the same run:
# ROUNDS alternating runs of each side, the median step time of each, ratio =
# torch ms / ours ms. Torch is also run with 1 thread (its OpenMP threads can
# lose to contention on small machines) and that ratio is printed beside.
# Both sides are pinned to the same cores (taskset -c $CORES, so any helper
# thread either side starts competes for the same cores), run with
# flush-to-zero/denormals-are-zero (ztrain's CPU ops always do; torch via
# torch.set_flush_denormal), the same thread count and the same in-memory
# batches (no data loader on either side).
# Prints a markdown table for BENCHMARKS.md.
#   THREADS (default: 1)  CORES (default: 0; THREADS cores are used)  ROUNDS (3)
#   CONFIGS: "small" (the shipped configs' sizes), "large", or "all" (default),
#     or "gpt768" (bench/gpt_torch.sh): GPT C=768 L=12 H=12 T=256, batch 2,
#     between two single-core square sgemm measurements through the same
#     OpenBLAS, each side's rate also as a percentage of the sgemm rate
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
bench=$build/bench/model_bench
[ -x "$bench" ] || { echo "models.sh: $bench not built (cmake --build $build --target model_bench)" >&2; exit 2; }
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "models.sh: $py cannot import torch (apt-get install python3-torch)" >&2; exit 2; }
NCORES=$(getconf _NPROCESSORS_ONLN)
THREADS=${THREADS:-1}
CORES=${CORES:-$(seq -s, 0 $((THREADS - 1)))}
pin() { taskset -c "$CORES" "$@"; }
ROUNDS=${ROUNDS:-3}
CONFIGS=${CONFIGS:-all}

# Both sides use the same OpenBLAS (torch links Debian's libblas.so.3 ->
# OpenBLAS). OpenBLAS 0.3.21 does not recognise some newer Xeons and falls
# back to its Prescott (SSE3) kernels; where the CPU has AVX-512 (AVX2) we
# name the kernel set explicitly, for both sides alike.
source "$here/coretype.sh"   # same OpenBLAS kernels on both sides
export OPENBLAS_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS

cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo "# machine: $cpu, $NCORES cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# threads=$THREADS cores=$CORES (taskset, both sides) ftz=on (both) rounds=$ROUNDS OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}"
echo "# torch $($py -c 'import torch; print(torch.__version__)'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

run_cfg() {   # name model args...
  local name=$1 model=$2; shift 2
  local ours=() theirs=() theirs1=() line params batch tparams
  for ((r = 0; r < ROUNDS; r++)); do
    line=$(pin "$bench" "$model" --threads "$THREADS" "$@")
    ours+=("$(echo "$line" | field ms_per_step)")
    params=$(echo "$line" | field params); batch=$(echo "$line" | field batch)
    line=$(pin $py "$here/torch_ref.py" "$model" --threads "$THREADS" --flush-denormal 1 "$@")
    theirs+=("$(echo "$line" | field ms_per_step)")
    tparams=$(echo "$line" | field params)
    [ "$tparams" = "$params" ] || { echo "models.sh: $name: parameter counts differ (ours $params, torch $tparams)" >&2; exit 1; }
    if [ "$THREADS" -gt 1 ]; then   # torch's other thread count, for an honest second ratio
      line=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 pin $py "$here/torch_ref.py" "$model" --threads 1 --flush-denormal 1 "$@")
      theirs1+=("$(echo "$line" | field ms_per_step)")
    fi
  done
  local mo mt mt1 unit per
  mo=$(printf '%s\n' "${ours[@]}" | median); mt=$(printf '%s\n' "${theirs[@]}" | median)
  mt1=$mt
  [ ${#theirs1[@]} -gt 0 ] && mt1=$(printf '%s\n' "${theirs1[@]}" | median)
  if [ "$model" = gpt ]; then
    local T; T=$(echo " $*" | sed -n 's/.*--ctx \([0-9]*\).*/\1/p'); T=${T:-64}
    unit="tokens/s"; per=$((batch * T))
  else
    unit="samples/s"; per=$batch
  fi
  last_mo=$mo last_mt=$mt last_per=$per
  awk -v n="$name" -v p="$params" -v b="$batch" -v u="$unit" -v per="$per" -v mo="$mo" -v mt="$mt" -v mt1="$mt1" \
    'BEGIN {printf "| %s | %s | %s | %.0f %s | %.2f | %.0f | %.2f | **%.2f×** | %.2f | %.2f× |\n",
            n, p, b, per*1000/mo, u, mo, per*1000/mt, mt, mt/mo, mt1, mt1/mo}'
}

echo "| config | params | batch | ztrain rate | ztrain ms/step | torch rate | torch ms/step | ratio (same threads) | torch 1-thread ms/step | ratio vs it |"
echo "|---|---|---|---|---|---|---|---|---|---|"
if [ "$CONFIGS" = small ] || [ "$CONFIGS" = all ]; then
  run_cfg "mlp 784-256-128-10" mlp --hidden 256,128 --batch 64
  run_cfg "mlp 784-512-512-10" mlp --hidden 512,512 --batch 128
  run_cfg "gpt V96 T64 C64 L2 H4" gpt --vocab 96 --ctx 64 --d_model 64 --n_layer 2 --n_head 4 --batch 16
fi
if [ "$CONFIGS" = large ] || [ "$CONFIGS" = all ]; then
  run_cfg "mlp 784-1024-1024-10" mlp --hidden 1024,1024 --batch 256 --steps 60
  run_cfg "gpt V96 T128 C128 L4 H4" gpt --vocab 96 --ctx 128 --d_model 128 --n_layer 4 --n_head 4 --batch 16 --steps 12
fi
if [ "$CONFIGS" = gpt768 ]; then
  # FLOPs per token, fwd + bwd: 6 per matmul weight (L·12C² + V·C) plus
  # attention QKᵀ and PV, 12·L·T·C counting the full T x T scores (as
  # ztrain's flops_per_row) or half of it (only the causal triangle is needed)
  V=96 T=256 C=768 L=12 H=12 B=2
  sg1=$(pin "$bench" sgemm --n 2048 --threads "$THREADS" --steps 10 | field gflops_best)
  run_cfg "gpt V$V T$T C$C L$L H$H" gpt --vocab $V --ctx $T --d_model $C --n_layer $L --n_head $H --batch $B --steps "${GPT768_STEPS:-5}"
  sg2=$(pin "$bench" sgemm --n 2048 --threads "$THREADS" --steps 10 | field gflops_best)
  awk -v V=$V -v T=$T -v C=$C -v L=$L -v per="$last_per" -v mo="$last_mo" -v mt="$last_mt" -v s1="$sg1" -v s2="$sg2" 'BEGIN {
    mat = 6 * (L * 12 * C * C + V * C); full = 12 * L * T * C; half = full / 2
    sg = (s1 > s2) ? s1 : s2
    printf "# sgemm 2048x2048 on %s core(s): %.1f GFLOP/s before, %.1f after (the higher is the reference)\n", "'"$THREADS"'", s1, s2
    for (side = 0; side < 2; side++) {
      ms = side ? mt : mo; tps = per * 1000 / ms
      printf "# %-7s %.1f tokens/s = %.1f GFLOP/s (%.1f%% of sgemm) with full-T² attention; %.1f GFLOP/s (%.1f%%) with causal-half attention\n",
        side ? "torch" : "ztrain", tps, tps * (mat + full) / 1e9, 100 * tps * (mat + full) / 1e9 / sg, tps * (mat + half) / 1e9, 100 * tps * (mat + half) / 1e9 / sg
    }
  }'
fi
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
