#!/usr/bin/env bash
# deadrank.sh MODE LAUNCH BIN — the dead-rank test (docs/ARCHITECTURE.md, "no hangs" invariant).
#
# Three ranks of BIN (tests/ranks/deadrank) loop on barriers; rank 2 SIGKILLs
# itself after 20 barriers. The other two must be gone, with a non-zero
# status, within 60 s. Prints the measured time from the kill to the end of
# the job and how each survivor ended.
#   MODE mpirun           LAUNCH -n 3 (ztrain-launch outside Slurm: mpirun)
#   MODE srun             ZT_LAUNCH_MODE=srun LAUNCH -n 3 on the fixture cluster
#                         (srun --mpi=pmix --kill-on-bad-exit=1)
#   MODE abort-mpirun / abort-srun: rank 2 calls zt_boot_abort(6) instead;
#                         the job must end with status 6 within 60 s
#   MODE self-event-mpirun / self-event-srun: every rank notifies itself of a
#                         peer failure (PMIX_RANGE_PROC_LOCAL); the handler must
#                         set the flag and name the rank (deadrank --self-event)
#   MODE mpirun-recovery  mpirun --enable-recovery: mpirun does not kill the job,
#                         so only the survivors' own barrier timeout (10 s) or a
#                         PMIx event can end them: checks that guard, and
#                         reports whether the PMIx event handler fired.
# Findings (OpenMPI 4.1.4 + PMIx 4.2.2, Slurm 22.05.8, measured here):
#   mpirun: no PMIx event reaches the ranks; mpirun SIGTERMs the survivors
#     ~1 s after the death (SIGKILL ~1 s later if they ignore it); our SIGTERM
#     handler sets the stop flag, the barrier poll sees it, exit 6 (~1.0 s).
#   mpirun --enable-recovery: still no event (mpirun's PMIx server logs
#     "PMIX ERROR: BAD-PARAM in pmix_event_notification.c"), survivors end on
#     their barrier timeout; mpirun itself then exits 0 (!), so a job must not
#     trust mpirun's status when recovery is enabled.
#   srun -K: no PMIx event (Slurm 22.05 sends none, README "Running under Slurm"); srun kills the step as soon as
#     the task dies: survivors get SIGTERM within ~0.1 s and exit 6.
#   zt_boot_abort(6) (PMIx_Abort): mpirun SIGTERMs the others, srun SIGKILLs
#     them (with or without -K), within ~0.2 s; both launchers exit 6.
set -uo pipefail
mode=$1 launch=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
args=(--victim 2 --kill-at 20 --timeout 20)

case $mode in
    mpirun)
        unset SLURM_JOB_ID
        cmd=(env ZT_LAUNCH_MODE=mpirun "$launch" -n 3 -- "$bin" "${args[@]}") ;;
    srun)
        source "$here/../slurm/lib.sh"
        require_cluster 1
        unset SLURM_JOB_ID
        cmd=(env ZT_LAUNCH_MODE=srun "$launch" -n 3 -- "$bin" "${args[@]}") ;;
    abort-mpirun|abort-srun)
        # rank 2 calls zt_boot_abort(6): the job ends, and with status 6
        unset SLURM_JOB_ID
        lm=${mode#abort-}
        if [[ $lm == srun ]]; then source "$here/../slurm/lib.sh"; require_cluster 1; fi
        args+=(--abort)
        cmd=(env "ZT_LAUNCH_MODE=$lm" "$launch" -n 3 -- "$bin" "${args[@]}") ;;
    mpirun-recovery)
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
        root=(); [[ $(id -u) == 0 ]] && root=(--allow-run-as-root)
        args=(--victim 2 --kill-at 20 --timeout 10)
        cmd=(mpirun "${root[@]}" --oversubscribe --bind-to none --enable-recovery -n 3 "$bin" "${args[@]}") ;;
    self-event-mpirun|self-event-srun)
        # positive control of the PMIx event handler (deadrank.c --self-event)
        unset SLURM_JOB_ID
        lm=${mode#self-event-}
        if [[ $lm == srun ]]; then source "$here/../slurm/lib.sh"; require_cluster 1; fi
        o=$(ZT_LAUNCH_MODE=$lm timeout -k 10 60 "$launch" -n 3 -- "$bin" --self-event 2>&1)
        rc=$?
        echo "$o"
        n=$(grep -c '^DEADRANK-EVENT-OK' <<<"$o")
        if ((rc == 0 && n == 3)); then
            echo "deadrank[$mode]: OK: the handler set the peer-failed flag on all 3 ranks"
            exit 0
        fi
        echo "deadrank[$mode]: FAIL: launcher rc $rc, $n of 3 ranks saw their event" >&2
        exit 1 ;;
    *) echo "usage: deadrank.sh mpirun|srun|mpirun-recovery|self-event-mpirun|self-event-srun LAUNCH BIN" >&2
       exit 2 ;;
esac

timeout -k 10 120 "${cmd[@]}" >"$out" 2>"$err"
rc=$?
t_end=$(date +%s.%N)
cat "$out"
grep -v '^$' "$err" | head -40 >&2

fail() { echo "deadrank[$mode]: FAIL: $*" >&2; exit 1; }
kill_t=$(sed -n 's/^DEADRANK-KILL rank 2 t=\([0-9.]*\)$/\1/p' "$out")
[[ -n $kill_t ]] || fail "rank 2 never reached its kill point (launcher rc $rc)"
((rc != 124)) || fail "the job still ran 120 s after the start: hang"
elapsed=$(awk -v a="$kill_t" -v b="$t_end" 'BEGIN { printf "%.2f", b - a }')

# every survivor process must be gone now (a zombie not yet reaped by init
# counts as gone: allow 3 s for the reaping)
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ -n $st && $st != Z && $st != X ]]
}
for pid in $(sed -n 's/^DEADRANK-START rank [01]\/3 .* pid \([0-9]*\)$/\1/p' "$out"); do
    for _ in $(seq 30); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && fail "survivor pid $pid still alive after the launcher returned"
done

events=$(grep -c 'PMIx event' "$err")
summary=""
for r in 0 1; do
    line=$(grep "^DEADRANK-EXIT rank $r " "$out")
    if [[ -n $line ]]; then
        code=$(sed 's/.* code \([0-9]*\) .*/\1/' <<<"$line")
        why=$(sed 's/.* reason \([^ ]*\) .*/\1/' <<<"$line")
        t=$(sed 's/.* t=\([0-9.]*\)$/\1/' <<<"$line")
        dt=$(awk -v a="$kill_t" -v b="$t" 'BEGIN { printf "%.2f", b - a }')
        summary+=" rank $r exit $code ($why) after ${dt} s;"
        ((code != 0)) || fail "rank $r exited 0"
    else
        summary+=" rank $r killed by the launcher;"
    fi
done
how="was SIGKILLed"; [[ $mode == abort-* ]] && how="called zt_boot_abort(6)"
echo "deadrank[$mode]: job over ${elapsed} s after rank 2 $how (launcher exit $rc);$summary PMIx events seen: $events"
awk -v e="$elapsed" 'BEGIN { exit !(e < 60) }' || fail "took ${elapsed} s (limit 60 s)"
if [[ $mode == abort-* ]]; then
    ((rc == 6)) || fail "launcher exited $rc, want the aborting rank's status 6"
elif [[ $mode == mpirun-recovery ]]; then
    # mpirun's own status is not to be trusted here; each survivor must have
    # printed its non-zero exit
    [[ $(grep -c '^DEADRANK-EXIT rank [01] code [1-9]' "$out") == 2 ]] ||
        fail "a survivor did not leave by its own timeout/event"
else
    ((rc != 0)) || fail "launcher exited 0 after a rank was killed"
fi
echo "deadrank[$mode]: OK"
