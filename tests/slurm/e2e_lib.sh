# e2e_lib.sh — helpers for the end-to-end Slurm tests of sbatch/ (sourced).
# Needs: ZT (ztrain binary), SRC (source root), DATA (prepared datasets).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ZT=${ZT:?}; SRC=${SRC:?}; DATA=${DATA:?}
PY=/usr/bin/python3
W_DIR=$(mktemp -d /tmp/zt-e2e.XXXXXX)
# OpenMPI's shared-memory segments of killed jobs land here, not in /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$W_DIR
cleanup_e2e() { scancel -u root --quiet 2>/dev/null; rm -rf "$W_DIR"; }
trap cleanup_e2e EXIT
fail() { echo "FAIL: $*" >&2; for f in "$W_DIR"/*.out; do [ -f "$f" ] && { echo "--- $f"; tail -40 "$f"; }; done >&2; exit 1; }

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
