#!/usr/bin/env bash
# fault.sh — a collective that fails on one rank ends the whole job with
# exit 6 (ZT_EXIT_PEER), never a silent step on stale values, and no
# checkpoint is committed after the fault.
#
# ZT_FAULT_COLLECTIVE=R:N (tests only) makes the N-th
# collective rank R issues on its data communicator (blocking or async,
# 1-based) fail: a blocking one returns an error, an async one returns no
# request. Rank 1 of 3 fails; with the current order of collectives (#1 the
# ckpt.dir claim bcast, #2-#3 the memory check's all-reduces, #4 the resume
# bcast; then per step 4 bucket reduce-scatters, the grad-norm²
# all-reduce, unit 0's parameter gather at the update (ZeRO-1/2: the other
# units' gathers at the next forward), the loop's 2 all-reduces, the
# commit's all-gather and bcast) the cases hit an async bucket reduce-scatter
# at step 1, the blocking grad-norm² all-reduce at step 3, a ZeRO-3 unit
# gather at step 1 and the checkpoint commit's all-gather at step 3. Should
# the order change, the checks below still hold for whatever collective is hit.
#
# Two legs per case:
#  A  as users run it (ztrain-launch, mpirun ends the job at the first
#     non-zero exit): the launcher exits 6, the log names rank 1 and the op;
#  B  with mpirun told not to end the job (orte_abort_on_non_zero_status=0)
#     and each rank wrapped to print its own exit status: every rank exits 6,
#     rank 1 at once, the others when their collective times out
#     (train.comm_timeout) — each says so itself.
# After both: latest is absent or names a step before the failed one.
. "$(dirname "$0")/lib.sh"
TMO=3
cfg=(--config "$SRC/tests/ranks/tiny_mlp.ini" --set data.path="$DATA/mnist.h5" --set train.steps=6
     --set train.comm_timeout=$TMO --set ckpt.every=1 --set ckpt.async=false --set ckpt.keep_last=0)

# check_latest DIR LINE: no checkpoint committed after the fault named in LINE
check_latest() {
  local d=$1 line=$2 s x k latest=-1
  [ -f "$d/latest" ] && latest=$((10#$(sed 's/^step-//' "$d/latest")))
  s=$(sed -n 's/.* at \(checkpoint \)\{0,1\}step \([0-9]*\).*/\2/p' <<<"$line")
  [ -n "$s" ] || fail "no step in the failure line: $line"
  # saves are synchronous at every step, and each is committed in the
  # background after it is written (fsync, outcome gather, index, rename: a
  # step boundary or two later): the last checkpoint is the one of the step
  # before the fault, or the one before that if the fault ended the job while
  # that save was still on its way; never a later one. After a fault in the
  # commit's outcome broadcast of step s, rank 0 may already have committed
  # step s (every shard was written).
  local want=$((s - 1)) older=$((s - 2 >= 1 ? s - 2 : -1))
  [[ $line == *"bcast (commit outcome)"* ]] && want=$s older=$((s - 1))
  ((s == 1)) && want=-1 older=-1
  ((latest == want || latest == older)) ||
    fail "latest is step $latest after a fault at step $s, want $want (or $older)"
  [[ $line == *"bcast (commit outcome)"* ]] || ((latest <= s - 1)) || fail "latest is step $latest after the fault at step $s" 
  for x in "$d"/step-*; do
    [ -e "$x" ] || continue
    k=$((10#${x##*step-}))
    ((k <= (latest < 0 ? 0 : latest))) || fail "$x exists after the fault at step $s (latest $latest)"
  done
  echo "  latest: $( [ $latest -ge 0 ] && echo "step $latest" || echo absent ), fault at step $s"
}

cat >"$T/wrap.sh" <<'EOF'
"$@"; rc=$?
echo "FAULT-EXIT rank ${OMPI_COMM_WORLD_RANK:-?} rc $rc" >&2
exit $rc
EOF

for case in "2 5" "2 29" "3 5" "2 33"; do
  set -- $case; stage=$1 n=$2
  echo "== stage $stage, rank 1 fails its collective #$n"
  # leg A
  d="$T/ckA-$stage-$n" rc=0
  ZT_FAULT_COLLECTIVE=1:$n timeout -k 10 300 "$LAUNCH" -n 3 -- "$ZT" train "${cfg[@]}" \
      --set train.zero_stage=$stage --set ckpt.dir="$d" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc = 6 ] || { cat "$T/out" "$T/err"; fail "leg A: launcher exited $rc, want 6"; }
  line=$(grep -h "collective .* failed on rank 1 of 3" "$T/err" "$T/out" | head -1)
  [ -n "$line" ] || { cat "$T/out" "$T/err"; fail "leg A: no line naming rank 1 and the failed collective"; }
  echo "  A: exit 6: ${line#*ztrain: }"
  check_latest "$d" "$line"
  # leg B
  d="$T/ckB-$stage-$n" rc=0
  OMPI_MCA_orte_abort_on_non_zero_status=0 ZT_FAULT_COLLECTIVE=1:$n timeout -k 10 300 \
      "$LAUNCH" -n 3 -- bash "$T/wrap.sh" "$ZT" train "${cfg[@]}" \
      --set train.zero_stage=$stage --set ckpt.dir="$d" >"$T/out" 2>"$T/err" || rc=$?
  [ $rc != 124 ] || { cat "$T/err"; fail "leg B: the job hung"; }
  for r in 0 1 2; do
    grep -q "^FAULT-EXIT rank $r rc 6$" "$T/err" || { cat "$T/out" "$T/err"; fail "leg B: rank $r did not exit 6"; }
  done
  line=$(grep -h "collective .* failed on rank 1 of 3" "$T/err" "$T/out" | head -1)
  [ -n "$line" ] || { cat "$T/err"; fail "leg B: rank 1 did not name the failed collective"; }
  for r in 0 2; do   # the peers end on their own collective timeout
    grep -Eq "rank $r[: ].*(timed out|failed)" "$T/err" || { cat "$T/err"; fail "leg B: rank $r did not report its timeout"; }
  done
  echo "  B: ranks 0, 1, 2 exited 6 (peers: $(grep -ho 'timed out after [0-9.]* s' "$T/err" | sort -u | tr '\n' ' '))"
  check_latest "$d" "$line"
done
echo "PASS: a failed collective on one rank ends every rank with exit 6, and nothing is committed after it"
