#!/usr/bin/env bash
# check_build.sh ZTRAIN LIBZT_TRAINER OPS_CHECK — ctest `gpu_build` (label
# gpu-build): needs no GPU. Fails when the GPU path was configured but its
# objects are missing, not linked into the binaries, or lack sm_90 code/PTX,
# and runs zt_ops_check's harness on the CPU table alone (`--table cpu`).
set -uo pipefail
zt=$1 lib=$2 ops=$3
CUDA=${ZT_CUDA_ROOT:-/usr/local/cuda}
fail=0
bad() { echo "gpu_build: FAIL: $*"; fail=1; }

got=$("$zt" info --build 2>&1)
[ "$got" = "gpu: cuda+nccl" ] || bad "ztrain info --build says '$got', expected 'gpu: cuda+nccl'"

# defined (T/D/R/V...), not undefined (U) or weak-undefined (w/v)
# (nm into a variable first: `nm | grep -q` under pipefail fails when grep
# stops reading early and nm gets SIGPIPE)
defined() { local syms; syms=$(nm "$1" 2>/dev/null); grep -Eq "^[0-9a-f]+ [TtDdRrVvBb] $2\$" <<<"$syms"; }
for s in zt_ops_cuda zt_ops_cuda_bf16 zt_ops_cuda_stream; do
  defined "$lib" "$s" || bad "$s is not defined in $(basename "$lib")"
  defined "$ops" "$s" || bad "$s is not defined in $(basename "$ops")"
done
for s in zt_ops_cuda zt_ops_cuda_bf16; do
  defined "$zt" "$s" || bad "$s is not linked into ztrain ($(nm "$zt" | grep -E " $s\$" | sed 's/^ *//')):" \
    "the table is declared weak in ops.h, and a weak reference does not pull ops_cuda.o out of" \
    "libzt_trainer.a; the trainer must reference a strong symbol of it (e.g. zt_ops_cuda_stream())" \
    "under ZT_HAVE_CUDA, or link the library whole"
done

# sm_90 machine code and compute_90 PTX in the CUDA object
if [ -x "$CUDA/bin/cuobjdump" ]; then
  elf=$("$CUDA/bin/cuobjdump" --list-elf "$lib" 2>/dev/null)
  ptx=$("$CUDA/bin/cuobjdump" --list-ptx "$lib" 2>/dev/null)
  grep -q "sm_90" <<<"$elf" || bad "no sm_90 SASS in $(basename "$lib")"
  grep -q "sm_90" <<<"$ptx" || bad "no compute_90 PTX in $(basename "$lib")"
else
  echo "gpu_build: note: no cuobjdump under $CUDA, SASS/PTX targets not checked"
fi
# the check program's own harness, CPU table on both sides (no GPU needed)
if ! self=$("$ops" --table cpu 2>&1); then
  echo "$self" | grep -v PASS
  bad "zt_ops_check --table cpu (harness self-test) failed"
fi
[ $fail = 0 ] && echo "gpu_build: ok (ztrain and zt_ops_check link the CUDA op tables; sm_90 SASS + PTX)"
exit $fail
