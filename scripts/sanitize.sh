#!/usr/bin/env bash
# sanitize.sh — AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan: -DZT_SANITIZE=address,undefined, no GPU) running
#   1. every unit test (ctest -L unit; includes the fuzz regression replays);
#   2. a 2-rank train -> checkpoint -> resume through mpirun: ZeRO-2 with
#      asynchronous saves, stopped at step 3 (exit 3), resumed to the end.
# Exits non-zero on any failure AND on any sanitizer report: every report is
# written to a file under the log dir (log_path), and the script fails if one
# exists, so a report in a process whose exit status a test expects to be
# non-zero, or in a rank that mpirun outlived, is not lost. UBSan does not
# recover (-fno-sanitize-recover=all).
#
# Leaks: LSan is on everywhere. OpenMPI/PMIx/hwloc keep allocations for the
# life of a process and HDF5 1.10 leaks on damaged files; those are ignored by
# library in tests/fuzz/lsan.supp (a leak whose stack starts in our code is
# still a failure).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=build-asan
start=$(date +%s)
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZT_GPU=OFF -DZT_SANITIZE=address,undefined >/dev/null
cmake --build "$B" -j"$(nproc)" >/dev/null
echo "sanitize.sh: built $B in $(( $(date +%s) - start )) s"

T=$(mktemp -d /tmp/zt-sanitize.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/reports"
export ASAN_OPTIONS="log_path=$T/reports/asan:detect_leaks=1:strict_string_checks=1:check_initialization_order=1"
export UBSAN_OPTIONS="log_path=$T/reports/ubsan:print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0"
# shared-memory segments of the ranks land in $T, not in /dev/shm
export OMPI_MCA_btl_vader_backing_directory=$T
unset SLURM_JOB_ID SLURM_JOBID

reports() {   # prints every report so far; status 1 if there is one
    local any=1 f
    for f in "$T"/reports/*; do
        [ -e "$f" ] || continue
        any=0
        echo "==== sanitizer report $(basename "$f") ====" >&2
        cat "$f" >&2
    done
    return $((1 - any))
}
fail() { echo "sanitize.sh: FAIL: $*" >&2; reports || true; exit 1; }

# 1. unit tests
(cd "$B" && ctest -L unit -j2 --timeout 600 --output-on-failure) || fail "unit tests"
reports && fail "sanitizer report(s) during the unit tests"
echo "sanitize.sh: unit tests clean ($(( $(date +%s) - start )) s so far)"

# 2. two ranks: train, checkpoint, resume
ZT=$ROOT/$B/trainer/ztrain
"$ZT" data prep mnist "$T/mnist.h5" "$ROOT/data/raw/mnist" >"$T/log" 2>&1 || { cat "$T/log"; fail "data prep"; }
run2() { "$ROOT/launcher/ztrain-launch" -n 2 -- "$ZT" train --config "$ROOT/tests/ranks/tiny_mlp.ini" \
         --set data.path="$T/mnist.h5" --set train.steps=6 --set train.zero_stage=2 \
         --set ckpt.dir="$T/ck" --set ckpt.every=2 --set ckpt.async=true "$@"; }
rc=0
run2 --stop-at 3 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "first leg exited $rc, want 3 (stopped at step 3, checkpointed)"; }
[ "$(cat "$T/ck/latest")" = step-00000003 ] || { cat "$T/log"; fail "latest is not step-00000003"; }
run2 >"$T/log" 2>&1 || { cat "$T/log"; fail "resume leg"; }
grep -q "resumed from .*step-00000003" "$T/log" || { cat "$T/log"; fail "the second leg did not resume from step 3"; }
"$ZT" ckpt verify "$T/ck" >"$T/log" 2>&1 || { cat "$T/log"; fail "ckpt verify of the final checkpoint"; }
reports && fail "sanitizer report(s) during the 2-rank train/checkpoint/resume"
echo "sanitize.sh: PASS: unit tests and 2-rank train -> checkpoint -> resume are sanitizer-clean in $(( $(date +%s) - start )) s"
