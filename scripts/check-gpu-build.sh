#!/usr/bin/env bash
# check-gpu-build.sh — fail when nvcc and nccl.h are present but the GPU path
# (CUDA ops, NCCL backend) was not compiled into ztrain, so it cannot rot; then
# run every step of the device check that needs no GPU (tests/gpu/run.sh
# --no-gpu: the standalone zt_ops_check compiled and linked from the CUDA
# sources, both ops_check builds' CPU self-test), so the device run cannot
# fail on a link or a harness bug. Its log: build/gpu-check-nogpu/run.log.
# ZT_BUILD_DIR: the build tree to check (default build/, as setup.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA=${ZT_CUDA_ROOT:-/usr/local/cuda}
BUILD=${ZT_BUILD_DIR:-build}
if [ ! -x "$CUDA/bin/nvcc" ] || [ ! -f "$CUDA/include/nccl.h" ]; then
  echo "check-gpu-build: no nvcc/nccl.h under $CUDA: GPU path not expected"; exit 0
fi
got=$("$BUILD"/trainer/ztrain info --build)
[ "$got" = "gpu: cuda+nccl" ] || { echo "check-gpu-build: FAIL: nvcc and NCCL exist but ztrain reports '$got'"; exit 1; }
syms=$(nm -C --defined-only "$BUILD"/trainer/ztrain)   # defined only: a weak reference is not a build
for sym in zt_ops_cuda zt_ops_cuda_bf16 zt_backend_nccl; do
  grep -qw "$sym" <<<"$syms" || { echo "check-gpu-build: FAIL: $sym missing from ztrain"; exit 1; }
done
out=$BUILD/gpu-check-nogpu
if ! OUT=$out ZT_GPU_BUILD=$BUILD bash tests/gpu/run.sh --no-gpu > "$out.log" 2>&1; then
  sed -n '/^==== results/,$p' "$out.log" | grep -v '^| .* | PASS |' || true
  echo "check-gpu-build: FAIL: tests/gpu/run.sh --no-gpu (log: $out/run.log)"; exit 1
fi
echo "check-gpu-build: tests/gpu/run.sh --no-gpu: $(tail -1 "$out/results.md")"
echo "check-gpu-build: ok (ztrain built with CUDA $("$CUDA/bin/nvcc" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p') and NCCL)"
