#!/bin/bash
# bench/bf16.sh [BUILD_DIR] — bf16 on the CPU, all in one run, one core:
#  1. the machine's matrix-product rates at 2048²: ztrain's op tables (fp32:
#     OpenBLAS sgemm; bf16: oneDNN, bench/bf16_matmul) and PyTorch's (torch.mm
#     in fp32 and bf16);
#  2. training steps (forward + backward + clip + AdamW, model_bench vs
#     bench/torch_ref.py, same model, batch, data): ztrain fp32, ztrain bf16,
#     PyTorch fp32 and PyTorch bf16 autocast, for a GPT at C=768, L=12, H=12,
#     T=256, micro-batch 2, an MLP 784-1024-1024-10 at batch 256 and the
#     Fashion-MNIST CNN (configs/fashion_cnn.ini's layers) at batch 64.
# Everything pinned to the same core (taskset -c $CORE), 1 thread, flush-to-
# zero on both sides (ztrain's CPU ops always; torch.set_flush_denormal).
# Goals (issue 15): ztrain bf16 >= 1.8x ztrain fp32 and >= 1.3x PyTorch autocast.
#   CORE (default 0)  GPT_STEPS (5)  MLP_STEPS (30)  CNN_STEPS (30)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
mb=$build/bench/model_bench mm=$build/bench/bf16_matmul
for b in "$mb" "$mm"; do [ -x "$b" ] || { echo "bf16.sh: $b not built" >&2; exit 2; }; done
py=/usr/bin/python3
$py -c 'import torch' 2>/dev/null || { echo "bf16.sh: $py cannot import torch" >&2; exit 2; }
CORE=${CORE:-0} GPT_STEPS=${GPT_STEPS:-5} MLP_STEPS=${MLP_STEPS:-30} CNN_STEPS=${CNN_STEPS:-30}
pin() { taskset -c "$CORE" "$@"; }
# OpenBLAS's AVX-512 kernels where the CPU has AVX-512 (0.3.21 misses newer
# CPUs; an inherited OPENBLAS_CORETYPE=Haswell halves fp32): both sides alike.
# BF16_CORETYPE overrides.
if [ -n "${BF16_CORETYPE:-}" ]; then export OPENBLAS_CORETYPE=$BF16_CORETYPE
elif grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }

echo "# machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(getconf _NPROCESSORS_ONLN) cores; bf16 flags: $(grep -o -w 'avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# $(date -u +%Y-%m-%dT%H:%MZ); core $CORE, 1 thread, ftz on both sides, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-auto}; torch $($py -c 'import torch; print(torch.__version__)'); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "## matrix products, 2048², GFLOP/s (best of 5; wall, then CPU time)"
echo "ztrain: $(BF16_WALL=1 pin "$mm" 2048 1 5)"
line=$(pin "$mm" 2048 1 5); echo "ztrain: $line"
mm_bf16=$(echo "$line" | field bf16_gflops); mm_fp32=$(echo "$line" | field fp32_gflops)
pin $py - <<'PY'
import time, torch
torch.set_num_threads(1); torch.set_flush_denormal(True)
n = 2048
for dt in (torch.float32, torch.bfloat16):
    a = torch.randn(n, n).to(dt); b = torch.randn(n, n).to(dt)
    torch.mm(a, b)
    for clock in (time.perf_counter, time.process_time):
        best = 1e30
        for _ in range(5):
            t = clock(); torch.mm(a, b); best = min(best, clock() - t)
        print(f"torch: mm {str(dt).split('.')[1]} {2 * n ** 3 / best * 1e-9:.1f} GFLOP/s ({'wall' if clock is time.perf_counter else 'cpu'})")
PY

run() {   # run LABEL side(ours|torch) prec model args...
  local label=$1 side=$2 prec=$3; shift 3
  local line
  if [ "$side" = ours ]; then line=$(pin "$mb" "$@" --threads 1 --precision "$prec")
  else
    local ac=(); [ "$prec" = bf16 ] && ac=(--autocast bf16)
    line=$(pin $py "$here/torch_ref.py" "$@" --threads 1 --flush-denormal 1 "${ac[@]}")
  fi
  echo "$label: $line" >&2
  echo "$line"
}
table() {   # table NAME UNIT model args...: rates from wall time, and from CPU time
  local name=$1 unit=$2; shift 2
  local of ob tf tb
  of=$(run "ztrain fp32" ours fp32 "$@"); ob=$(run "ztrain bf16" ours bf16 "$@")
  tf=$(run "torch fp32" torch fp32 "$@"); tb=$(run "torch bf16 autocast" torch bf16 "$@")
  local k=tokens_per_s; [ "$unit" = samples/s ] && k=samples_per_s
  for clock in wall cpu; do
    awk -v n="$name" -v c="$clock" -v of="$(echo "$of" | field $k)" -v ob="$(echo "$ob" | field $k)" \
        -v tf="$(echo "$tf" | field $k)" -v tb="$(echo "$tb" | field $k)" -v gb="$(echo "$ob" | field gflops)" \
        -v mmb="$mm_bf16" -v mmf="$mm_fp32" -v gf="$(echo "$of" | field gflops)" \
        -v wof="$(echo "$of" | field ms_per_step)" -v wob="$(echo "$ob" | field ms_per_step)" \
        -v wtf="$(echo "$tf" | field ms_per_step)" -v wtb="$(echo "$tb" | field ms_per_step)" \
        -v cof="$(echo "$of" | field cpu_ms_per_step)" -v cob="$(echo "$ob" | field cpu_ms_per_step)" \
        -v ctf="$(echo "$tf" | field cpu_ms_per_step)" -v ctb="$(echo "$tb" | field cpu_ms_per_step)" \
      'BEGIN { if (c == "cpu") { of *= wof/cof; ob *= wob/cob; tf *= wtf/ctf; tb *= wtb/ctb; gb *= wob/cob; gf *= wof/cof }
              pb = sprintf("%.0f%% of %.0f", 100*gb/mmb, mmb); pf = sprintf("%.0f%% of %.0f", 100*gf/mmf, mmf)
              if (c == "wall") { pb = "–"; pf = "–" }
              printf "| %s | %s | %.0f | %.0f | %.0f | %.0f | **%.2f×** | **%.2f×** | %s | %s |\n",
              n, c, of, ob, tf, tb, ob/of, ob/tb, pb, pf}'
  done
}
echo "## training steps ($GPT_STEPS gpt / $MLP_STEPS mlp timed steps after 3 untimed)"
echo "# rates from wall time, and from each process's CPU time (on a loaded machine the"
echo "# time it computed rather than waited for the core); % of the matrix-product rate in CPU time"
echo "| model | clock | ztrain fp32 | ztrain bf16 | torch fp32 | torch bf16 autocast | bf16 / fp32 | bf16 / torch autocast | ztrain bf16 model GFLOP/s vs bf16 mm | ztrain fp32 vs fp32 mm |"
echo "|---|---|---|---|---|---|---|---|---|---|"
table "gpt C768 L12 H12 T256 B2 (tokens/s)" tokens/s gpt --vocab 96 --ctx 256 --d_model 768 --n_layer 12 --n_head 12 --batch 2 --steps "$GPT_STEPS"
table "mlp 784-1024-1024-10 B256 (samples/s)" samples/s mlp --hidden 1024,1024 --batch 256 --steps "$MLP_STEPS"
table "cnn fashion (conv32, conv64, fc128) B64 (samples/s)" samples/s cnn --batch 64 --steps "$CNN_STEPS"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
