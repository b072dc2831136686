#!/usr/bin/env bash
# ckpt.sh — checkpoint write and load+reshard MB/s next to dd sequential write
# (conv=fsync) and read of the same byte count, on the same disk, same run
# (issue 5). Prints the markdown for BENCHMARKS.md "## Checkpoint I/O (issue 5)".
#   bench/ckpt.sh [MB=256] [reps=5] [dir=ckpt-bench.tmp (on the disk to measure)]
# Env: BUILD=build dir (default build); QUIET_WAIT=seconds to wait for the
# 1-minute load average to fall below 1.0 first (default 0: measure at once).
# Cold-cache reads need root (drop_caches); otherwise posix_fadvise(DONTNEED).
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}; REPS=${2:-5}; DIR=${3:-$PWD/ckpt-bench.tmp}
B=${BUILD:-build}
[ -x "$B/bench/ckpt_bench" ] || cmake --build "$B" --target ckpt_bench >/dev/null
waited=0
while [ "$waited" -lt "${QUIET_WAIT:-0}" ] && awk '{exit !($1 >= 1.0)}' /proc/loadavg; do sleep 10; waited=$((waited + 10)); done
mkdir -p "$DIR"
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB;" \
     "disk $(findmnt -no SOURCE,FSTYPE -T "$DIR" | tr -s ' ' ' '); kernel $(uname -r); $(date -u +%F)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/bench/ckpt_bench" --dir "$DIR" --mb "$MB" --reps "$REPS"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
