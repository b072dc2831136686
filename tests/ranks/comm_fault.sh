#!/bin/bash
# comm_fault.sh MPIRUN_WORDS... -- COMM_TEST : ZT_FAULT_COLLECTIVE ends every rank.
#
# Rank 1's collective #3 is made to fail (ZT_FAULT_COLLECTIVE=1:3); ranks 0
# and 2 are then inside the matching all-reduce, waiting for rank 1.
#   A  as launched in production: rank 1 sees -1 and the injected-fault text,
#      exits 6 (zt_fatal, as the engine does); mpirun ends the others; the
#      job's status is 6.
#   B  nobody kills the waiting ranks: each rank runs detached from mpirun
#      (its own session) and records its own exit status; ranks 0 and 2 must
#      end by themselves with exit 6 and the comm's timeout / dead-peer line
#      (comm timeout 3 s here), rank 1 with exit 6 and the injected fault.
# The script waits for the files the ranks write (an event, not a delay); the
# ctest TIMEOUT is the only clock.
set -uo pipefail
mpirun=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do mpirun+=("$1"); shift; done
shift
bin=$1
if [ "${ZT_COMM_FAULT_RANK_WRAPPER:-}" = 1 ]; then
    # part B, one rank: detach, run, record the status
    r=$OMPI_COMM_WORLD_RANK
    setsid sh -c '"$1" fault >"$2/out.$3" 2>&1; echo $? >"$2/rc.$3.tmp"; mv "$2/rc.$3.tmp" "$2/rc.$3"' \
        sh "$bin" "$ZT_COMM_FAULT_DIR" "$r" &
    wait
    exit 0
fi
T=$(mktemp -d /tmp/zt-comm-fault.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMPI_MCA_btl_vader_backing_directory=$T
fail() { echo "FAIL: $*" >&2; exit 1; }

# --- A -----------------------------------------------------------------------
t0=$(date +%s.%N)
rc=0
ZT_FAULT_COLLECTIVE=1:3 "${mpirun[@]}" -n 3 "$bin" fault >"$T/a.out" 2>&1 || rc=$?
tA=$(echo "$(date +%s.%N) - $t0" | bc)
cat "$T/a.out"
[ "$rc" = 6 ] || fail "A: job status $rc, want 6"
grep -q "rank 1: collective failed: allreduce of 64 elements on rank 1: injected fault (ZT_FAULT_COLLECTIVE) in allreduce #3" "$T/a.out" ||
    fail "A: no injected-fault line from rank 1"
grep -q "FAIL" "$T/a.out" && fail "A: a rank reported FAIL"
echo "A: job ended with status 6 after ${tA} s"

# --- B -----------------------------------------------------------------------
mkdir "$T/b"
ZT_FAULT_COLLECTIVE=1:4 ZT_COMM_TEST_TIMEOUT=3 ZT_COMM_FAULT_RANK_WRAPPER=1 ZT_COMM_FAULT_DIR="$T/b" \
    "${mpirun[@]}" -n 3 "$0" "${mpirun[@]}" -- "$bin" >"$T/b.out" 2>&1 || true
# every rank writes rc.R when it has exited
while [ ! -e "$T/b/rc.0" ] || [ ! -e "$T/b/rc.1" ] || [ ! -e "$T/b/rc.2" ]; do sleep 0.2; done
for r in 0 1 2; do echo "B: rank $r exit $(cat "$T/b/rc.$r")"; cat "$T/b/out.$r"; done
for r in 0 1 2; do [ "$(cat "$T/b/rc.$r")" = 6 ] || fail "B: rank $r exited $(cat "$T/b/rc.$r"), want 6"; done
grep -q "injected fault (ZT_FAULT_COLLECTIVE) in allreduce #4" "$T/b/out.1" || fail "B: rank 1 line"
for r in 0 2; do
    grep -Eq "allreduce of 64 elements (timed out after|failed after)" "$T/b/out.$r" ||
        fail "B: rank $r did not report the stuck all-reduce"
done
echo "comm_fault: OK"
