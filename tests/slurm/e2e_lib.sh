# e2e_lib.sh — helpers for the end-to-end Slurm tests of sbatch/ (sourced).
# Needs: ZT (ztrain binary), SRC (source root), DATA (prepared datasets).
#
# No test here may depend on how fast the machine is. A job that must be
# interrupted trains for HUGE steps (days of work at any speed), so only the
# event the test causes (a signal, a killed rank, a lost node) ends it; the
# test acts only after the job has reported what it waits for (a step line,
# a committed checkpoint, "resumed from"), and a second signal ends a resumed
# run. The wait_for limits are only there to fail instead of hanging.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ZT=${ZT:?}; SRC=${SRC:?}; DATA=${DATA:?}
PY=/usr/bin/python3
W_DIR=$(mktemp -d /tmp/zt-e2e.XXXXXX)
# OpenMPI's shared-memory segments of killed jobs land here, not in /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$W_DIR
# steps no test job can finish: only a signal, a kill or a lost node ends it
HUGE=100000000
cleanup_e2e() { scancel -u root --quiet 2>/dev/null; rm -rf "$W_DIR"; }
trap cleanup_e2e EXIT
# A rank that crashes leaves a core in the job's working dir ($W_DIR; the
# limit travels with sbatch: PropagateResourceLimits) and fail() prints its
# backtrace, so a crash seen once in CI says where it happened.
ulimit -c unlimited 2>/dev/null || true
core_backtraces() {
  local c
  for c in "$W_DIR"/core* "$W_DIR"/*/core*; do
    [ -f "$c" ] || continue
    echo "--- backtrace of $c"
    if command -v gdb >/dev/null; then
      timeout 60 gdb -batch -nx -ex "info threads" -ex "thread apply all bt 12" "$ZT" "$c" 2>&1 | grep -v "^\[New LWP" | head -120
    else echo "(no gdb: install it to read the core)"; fi
  done
}
fail() {
  echo "FAIL: $*" >&2
  { for f in "$W_DIR"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done; core_backtraces; } >&2
  exit 1
}

# job_state ID: PENDING/RUNNING/COMPLETED/... or GONE once purged
job_state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1 | grep . || echo GONE; }
# wait_for TIMEOUT CMD...: poll every 0.5 s until CMD succeeds
wait_for() {
  local t=$1; shift; local end=$(( $(date +%s) + t ))
  until "$@"; do [ "$(date +%s)" -lt $end ] || return 1; sleep 0.5; done
}
# submit ARGS...: sbatch --parsable with our env; prints the job id
submit() { sbatch --parsable --chdir="$W_DIR" --export=ALL,ZTRAIN="$ZT" "$@"; }
# rank_pids PATTERN: pids of ztrain ranks (argv[0] is $ZT; not srun) matching PATTERN
rank_pids() { pgrep -f "^$ZT train .*$1" || true; }
# all_dead PID...: none of these processes exists any more
all_dead() { local p; for p in "$@"; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
# secs_since T0: seconds since a `date +%s.%N` stamp, one decimal
secs_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b - a}'; }
# node_of PID: the Slurm node a task runs on (multiple-slurmd: same host)
node_of() { tr '\0' '\n' </proc/$1/environ 2>/dev/null | sed -n 's/^SLURMD_NODENAME=//p'; }
# stop_step FILE [N]: the step of the N-th (default: last) "stop signal
# received: checkpointing step S" line in a job's output, or nothing
stop_step() {
  local n=${2:-0}
  sed -n 's/.*stop signal received: checkpointing step \([0-9]*\).*/\1/p' "$1" |
    if [ "$n" = 0 ]; then tail -1; else sed -n "${n}p"; fi
}
# count_lines PATTERN FILE: how many lines of FILE match PATTERN (0 if none)
count_lines() { grep -c -- "$1" "$2" 2>/dev/null || true; }
# has_lines N PATTERN FILE: FILE has at least N lines matching PATTERN
has_lines() { [ "$(count_lines "$2" "$3")" -ge "$1" ]; }
# signal_job ID: the warning signal to every task of the job's steps, as
# --signal=USR2@T would send it (the batch shell is not signalled)
signal_job() { scancel --signal=USR2 "$1"; }
# ref_run W STOP OUT.bin LOG ARGS...: the same training uninterrupted under
# mpirun, stopped after step STOP (--stop-at), parameters dumped to OUT.bin;
# a run stopped that way exits 3 (ZT_EXIT_STOPPED)
ref_run() {
  local w=$1 stop=$2 out=$3 log=$4 rc; shift 4
  env -u SLURM_JOB_ID "$SRC/launcher/ztrain-launch" -n "$w" -- "$ZT" train "$@" \
     --stop-at "$stop" --dump-params "$out" >"$log" 2>&1
  rc=$?
  [ $rc = 3 ] || { tail -20 "$log" >&2; echo "reference run exited $rc, want 3 (stopped at $stop)" >&2; return 1; }
}
