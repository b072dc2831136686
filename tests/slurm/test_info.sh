#!/usr/bin/env bash
# test_info.sh SHAPE NTASKS NNODES [SRUN_OPTION...] -- BIN ARGS...
# On the fixture's cluster (SHAPE 1 or 2 nodes) runs
#   srun --mpi=pmix --kill-on-bad-exit=1 -N NNODES -n NTASKS [SRUN_OPTION...] BIN ARGS...
# (BIN ARGS = `ztrain info`, or tests/slurm/zt_info_probe info) and checks the
# info lines (check_info.awk). With ZT_BOOT_NODE_EXCHANGE=1|2 in the
# environment the launcher derives node ids by put/fence/get instead.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
shape=$1 ntasks=$2 nnodes=$3
shift 3
opts=()
while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
[[ ${1:-} == -- ]] && shift
(($#)) || { echo "usage: test_info.sh SHAPE NTASKS NNODES [SRUN_OPTION...] -- BIN ARGS..." >&2; exit 2; }
require_cluster "$shape"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
t0=$(date +%s%N)
timeout -k 10 120 srun --mpi=pmix --kill-on-bad-exit=1 -N "$nnodes" -n "$ntasks" "${opts[@]}" "$@" >"$out"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$out"
echo "test_info: srun -N $nnodes -n $ntasks ${opts[*]} $* exited $rc in ${ms} ms"
((rc == 0)) || { echo "FAIL: srun exited $rc" >&2; exit 1; }
check_info "$out" "$ntasks" "$nnodes" || exit 1
# zt_info_probe also prints "ids ..." lines: under srun the launcher is
# "slurm" and job/step come from SLURM_JOB_ID/SLURM_STEP_ID
if grep -q '^ids ' "$out"; then
    bad=$(grep '^ids ' "$out" | grep -Ev '^ids rank [0-9]+ launcher slurm job [0-9]+ step [0-9]+ restarts 0 nspace slurm\.pmix\.[0-9]+\.[0-9]+$')
    [[ -z $bad ]] || { echo "FAIL: unexpected ids line(s): $bad" >&2; exit 1; }
    [[ $(grep '^ids ' "$out" | awk '{print $6, $8}' | sort -u | wc -l) == 1 ]] ||
        { echo "FAIL: ranks disagree on job/step ids" >&2; exit 1; }
    echo "test_info: ids OK: $(grep -m1 '^ids ' "$out" | cut -d' ' -f4-)"
fi
