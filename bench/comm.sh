#!/bin/bash
# bench/comm.sh [BUILD_DIR] [comm_bench args...] — all-reduce bus bandwidth of
# the comm layer (MPI backend: blocking zt_allreduce, and zt_iallreduce +
# zt_wait) next to raw MPI_Allreduce of the same bytes, interleaved in one run,
# 4 KB ... 64 MB; then the overlap table. Prints the machine, the load and the
# exact command first, for BENCHMARKS.md.
#   W (ranks, default 2)   ZT_COMM_ASYNC (polled|blocking|deferred|nbc)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
[ $# -gt 0 ] && shift
bench=$build/bench/comm_bench
[ -x "$bench" ] || { echo "comm.sh: $bench not built (cmake --build $build --target comm_bench)" >&2; exit 2; }
W=${W:-2}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cmd=(mpirun --oversubscribe --allow-run-as-root -n "$W" "$bench" "$@")
cpu=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
echo "# machine: $cpu, $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(mpirun --version | head -1)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg); ZT_COMM_ASYNC=${ZT_COMM_ASYNC:-polled}"
echo "# command: ${cmd[*]}"
"${cmd[@]}"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
