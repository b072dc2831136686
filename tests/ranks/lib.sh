# lib.sh — shared helpers for the multi-rank shell tests (sourced).
# Every test gets: ZT (the ztrain binary), SRC (source root), DATA (prepared
# test datasets), and a fresh scratch dir $T removed on exit.
set -euo pipefail
ZT=${ZT:?ZT must name the ztrain binary}
SRC=${SRC:?SRC must name the source root}
DATA=${DATA:?DATA must name the test data dir}
LAUNCH="$SRC/launcher/ztrain-launch"
PY=/usr/bin/python3
T=$(mktemp -d /tmp/zt-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
# shared-memory segments of ranks a test kills land in $T, not in /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$T
unset SLURM_JOB_ID SLURM_JOBID   # these tests use mpirun, never an allocation

# run_w W ARGS... : ztrain on W ranks via mpirun (through ztrain-launch)
run_w() { local w=$1; shift; "$LAUNCH" -n "$w" -- "$ZT" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
# cmp_params A B TOL : ||A-B|| / ||A|| <= TOL for raw float32 files
cmp_params() { "$PY" "$SRC/tests/ranks/cmp_params.py" "$@"; }
# expect_exit CODE CMD... : run CMD, require exit CODE, keep stderr in $T/err
expect_exit() {
    local want=$1; shift; local rc=0
    "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "expected exit $want, got $rc: $*"; }
}
