#!/usr/bin/env bash
# fuzz.sh [-t SECONDS | --ci] [TARGET...] — build the libFuzzer targets of
# tests/fuzz with clang (build-fuzz: ZT_FUZZ=ON, ASan+UBSan, coverage on our
# code only; HDF5, OpenBLAS, OpenMPI stay the system's gcc builds) and run each
# target from a copy of its seed corpus tests/fuzz/corpus/<t> (the repo is
# never modified). Targets: config dataset ckpt (default: all).
#   -t SECONDS  explore for SECONDS per target (default 60) with a random seed:
#               what a developer runs to look for new bugs;
#   --ci        what scripts/test.sh runs: a fixed seed and a fixed number of
#               inputs per target (about half a minute each here), so a commit's
#               result is the same on every run and every machine speed. A
#               random exploration that fails in CI says nothing about the
#               commit under test; new finds come from -t runs and are kept
#               as regressions.
#
# Fails (exit 1) on any crash, sanitizer report, leak in our code, timeout
# (-timeout=30 s for one input) or out-of-memory (-rss_limit_mb=2048). Each
# failing input is copied to build-fuzz/crashes/<t>/ and the log names it;
# reproduce with  build-fuzz/tests/fuzz_<t> FILE  and, once fixed, keep FILE
# as tests/fuzz/regress/<t>/<name> (ctest fuzz.replay.<t> replays it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
secs=60 ci=0
if [ "${1:-}" = -t ]; then secs=${2:?-t needs seconds}; shift 2
elif [ "${1:-}" = --ci ]; then ci=1; shift; fi
# inputs per target in --ci mode (~25-30 s each on the 2-core AMD EPYC here;
# the same seed makes each run a prefix of the longer one that passed before)
declare -A ci_runs=([config]=300000 [dataset]=4000 [ckpt]=1000)
targets=("$@")
((${#targets[@]})) || targets=(config dataset ckpt)

B=build-fuzz
cmake -S . -B "$B" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DZT_GPU=OFF -DZT_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$B" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null

work=$(mktemp -d /tmp/zt-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
# HDF5 1.10 leaks on damaged metadata, OpenMPI for its lifetime: ignored by
# library (tests/fuzz/lsan.supp); leaks of our own allocations still fail.
export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# A damaged length makes HDF5 ask malloc for absurd sizes (0x54...05 bytes in
# H5C_protect); glibc returns NULL and HDF5 fails cleanly, so let ASan return
# NULL too instead of reporting. A damaged object-header length can also ask
# for 2-4 GB (H5C_protect inside H5Fopen), which ASan would grant and
# libFuzzer's malloc hook (limit = -rss_limit_mb) would report as an OOM of
# ours: max_allocation_size_mb caps single allocations below that limit, so
# they fail as on a machine without that much memory. Our own code checks
# every allocation; total memory is still capped by -rss_limit_mb.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=1:allocator_may_return_null=1:max_allocation_size_mb=1024"

failed=()
for t in "${targets[@]}"; do
    cp -r "tests/fuzz/corpus/$t" "$work/corpus-$t"
    mkdir -p "$work/art-$t"
    rc=0
    start=$(date +%s)
    # cwd = the scratch dir: nothing lands in the repo
    if ((ci)); then budget=(-seed=20261201 -runs="${ci_runs[$t]}")
    else budget=(-max_total_time="$secs"); fi
    (cd "$work" && "$ROOT/$B/tests/fuzz_$t" "${budget[@]}" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/art-$t/" "$work/corpus-$t") >"$work/$t.log" 2>&1 || rc=$?
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1 || true)
    if [ "$rc" = 0 ] && [ -z "$(ls -A "$work/art-$t")" ]; then
        echo "fuzz.sh: $t: ok, $runs inputs in $(( $(date +%s) - start )) s (${cov:-cov ?})"
        continue
    fi
    failed+=("$t")
    mkdir -p "$B/crashes/$t"
    cp "$work/art-$t"/* "$B/crashes/$t/" 2>/dev/null || true
    echo "fuzz.sh: $t: FAILED (exit $rc); log tail:" >&2
    grep -v '^#[0-9]' "$work/$t.log" | tail -40 >&2
    for a in "$B/crashes/$t"/*; do
        [ -e "$a" ] && echo "fuzz.sh: $t: input kept as $a; reproduce: $B/tests/fuzz_$t $a" >&2
    done
done
if ((${#failed[@]})); then
    echo "fuzz.sh: FAILED: ${failed[*]}" >&2
    exit 1
fi
if ((ci)); then echo "fuzz.sh: all ${#targets[@]} targets ran their fixed --ci inputs without a crash"
else echo "fuzz.sh: all ${#targets[@]} targets ran ${secs} s each without a crash"; fi
