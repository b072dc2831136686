#!/usr/bin/env bash
# test_sbatch.sh LAUNCH -- BIN ARGS...
# `sbatch --wait` of tiny jobs on the one-node fixture cluster (slurm1):
#  1. a 2-task job whose batch script runs `LAUNCH -n 2 -- BIN ARGS...`
#     (LAUNCH = launcher/ztrain-launch: inside the allocation it must pick
#     srun --mpi=pmix --kill-on-bad-exit=1); sbatch --wait returns 0 and the
#     job's output holds 2 valid info lines, with SLURM ids;
#  2. a job that exits 3: sbatch --wait must return 3 (sbatch/ relies on
#     job exit codes, e.g. ZT_EXIT_STOPPED).
set -uo pipefail
source "$(dirname "$0")/lib.sh"
launch=$1
shift
[[ ${1:-} == -- ]] && shift
(($#)) || { echo "usage: test_sbatch.sh LAUNCH -- BIN ARGS..." >&2; exit 2; }
require_cluster 1
work=$(mktemp -d "$PWD/sbatch.XXXXXX")
trap 'rm -rf "$work"' EXIT

q=$(printf '%q ' "$@")
cat >"$work/job.sh" <<JOB
#!/bin/bash
#SBATCH --job-name=zt-sbatch-test
#SBATCH --ntasks=2
#SBATCH --output=$work/job-%j.out
echo "batch: job \$SLURM_JOB_ID ntasks \$SLURM_NTASKS"
$(printf '%q' "$launch") -n 2 --dry-run -- $q | head -3 | tr '\n' ' '; echo
$(printf '%q' "$launch") -n 2 -- $q
JOB
t0=$(date +%s%N)
timeout -k 10 120 sbatch --wait "$work/job.sh"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cat "$work"/job-*.out
echo "test_sbatch: sbatch --wait (2 tasks) returned $rc in ${ms} ms"
((rc == 0)) || { echo "FAIL: sbatch --wait returned $rc" >&2; exit 1; }
grep -q '^srun --mpi=pmix --kill-on-bad-exit=1' "$work"/job-*.out ||
    { echo "FAIL: ztrain-launch did not pick srun inside the allocation" >&2; exit 1; }
check_info "$work"/job-*.out 2 1 || exit 1

t0=$(date +%s%N)
timeout -k 10 60 sbatch --wait -n 1 -o /dev/null --wrap 'exit 3'
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
echo "test_sbatch: sbatch --wait of 'exit 3' returned $rc in ${ms} ms"
((rc == 3)) || { echo "FAIL: want exit code 3 back from sbatch --wait" >&2; exit 1; }
echo "test_sbatch: OK"
