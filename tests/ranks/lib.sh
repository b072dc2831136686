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
# start_w W ARGS... : run_w in the background, as the leader of a session and
# process group of its own (setsid execs, no fork: JOB_PID is mpirun's pid and
# its group id), so kill_w can SIGKILL mpirun and every rank at once, as a
# node failure or `scancel -s KILL` would. Redirect the call's output.
start_w() { local w=$1; shift; setsid "$LAUNCH" -n "$w" -- "$ZT" "$@" & JOB_PID=$!; }
# kill_w PID : SIGKILL that whole group; returns the job's exit status (137)
kill_w() { local rc=0; kill -KILL -- "-$1" 2>/dev/null || true; wait "$1" 2>/dev/null || rc=$?; return $rc; }   # (2>: no "Killed" notice)
# wait_for SECONDS WHAT CMD... : poll CMD every 50 ms until it succeeds. The
# limit only guards against a hang (the event never comes): fail then.
wait_for() {
    local limit=$1 what=$2; shift 2
    local end=$((SECONDS + limit))
    until "$@"; do
        [ $SECONDS -lt $end ] || fail "no $what after ${limit} s"
        sleep 0.05
    done
}
# alive PID : the process runs (a zombie, exited but not yet waited for, does not)
alive() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }; [ "${st%% *}" != Z ]; }
