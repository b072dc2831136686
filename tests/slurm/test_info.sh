#!/usr/bin/env bash
# test_info.sh SHAPE NTASKS NNODES -- BIN ARGS...
# On the fixture's cluster (SHAPE 1 or 2 nodes) runs
#   srun --mpi=pmix --kill-on-bad-exit=1 -N NNODES -n NTASKS BIN ARGS...
# (BIN ARGS = `ztrain info`, or tests/slurm/zt_info_probe info) and checks the
# info lines (check_info.awk). With ZT_BOOT_NODE_EXCHANGE=1 in the
# environment the launcher derives node ids by put/fence/get instead.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
shape=$1 ntasks=$2 nnodes=$3
shift 3
[[ ${1:-} == -- ]] && shift
(($#)) || { echo "usage: test_info.sh SHAPE NTASKS NNODES -- BIN ARGS..." >&2; exit 2; }
require_cluster "$shape"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$(date +%s%N)
timeout 120 srun --mpi=pmix --kill-on-bad-exit=1 -N "$nnodes" -n "$ntasks" "$@" >"$out"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$out"
echo "test_info: srun -N $nnodes -n $ntasks $* exited $rc in ${ms} ms"
((rc == 0)) || { echo "FAIL: srun exited $rc" >&2; exit 1; }
check_info "$out" "$ntasks" "$nnodes"
