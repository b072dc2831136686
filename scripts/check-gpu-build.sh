#!/usr/bin/env bash
# check-gpu-build.sh — fail when nvcc and nccl.h are present but the GPU path
# (CUDA ops, NCCL backend) was not compiled into ztrain, so it cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA=${ZT_CUDA_ROOT:-/usr/local/cuda}
if [ ! -x "$CUDA/bin/nvcc" ] || [ ! -f "$CUDA/include/nccl.h" ]; then
  echo "check-gpu-build: no nvcc/nccl.h under $CUDA: GPU path not expected"; exit 0
fi
got=$(build/trainer/ztrain info --build)
[ "$got" = "gpu: cuda+nccl" ] || { echo "check-gpu-build: FAIL: nvcc and NCCL exist but ztrain reports '$got'"; exit 1; }
syms=$(nm -C --defined-only build/trainer/ztrain)   # defined only: a weak reference is not a build
for sym in zt_ops_cuda zt_ops_cuda_bf16 zt_backend_nccl; do
  grep -qw "$sym" <<<"$syms" || { echo "check-gpu-build: FAIL: $sym missing from ztrain"; exit 1; }
done
echo "check-gpu-build: ok (ztrain built with CUDA $("$CUDA/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') and NCCL)"
