# coretype.sh — sourced by the bench scripts: OpenBLAS 0.3.21 misdetects some
# CPUs, so name its kernel set from the CPU flags (as ztrain itself does),
# unless OPENBLAS_CORETYPE is already set; both sides of a comparison then use
# the same kernels.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo; then export OPENBLAS_CORETYPE=Haswell; fi
fi
