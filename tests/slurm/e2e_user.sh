#!/usr/bin/env bash
# e2e_user.sh — cluster users are never root: an unprivileged user
# (ZT_SLURM_USER, default ztuser, created with useradd if missing) submits the
# training template from a world-readable copy of the binary, config, script
# and data, with its own working/checkpoint directory. As that user: sbatch,
# then (once the job reports step 100) scancel --signal=USR2 -> checkpoint,
# exit 3, requeue -> the requeued run resumes from that step; a second signal
# from the user ends it (MAX_RESTARTS=1). The job, its output and its
# checkpoint belong to the user.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
user=${ZT_SLURM_USER:-ztuser}
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --no-create-home --shell /bin/bash --comment "ztrain Slurm tests" "$user" || fail "useradd $user"
  echo "created user $user"
fi
uid=$(id -u "$user")
[ "$uid" != 0 ] || fail "$user is root"
trap 'scancel -u "$user" --quiet 2>/dev/null; cleanup_e2e' EXIT
# what the user runs: copies they can read (the build tree may sit under a
# home directory closed to others); the working directory is theirs
mkdir -p "$W_DIR/bin" "$W_DIR/data"
cp "$ZT" "$W_DIR/bin/ztrain" && cp "$DATA/mnist.h5" "$W_DIR/data/" && cp "$SRC/configs/mnist_mlp.ini" "$W_DIR/" \
  && cp "$SRC/sbatch/train.sbatch" "$W_DIR/" || fail "staging the copies"
chmod -R a+rX "$W_DIR" && chown -R "$user:" "$W_DIR" || fail "chown $W_DIR"
# as the user: only what a login would give them, plus SLURM_CONF
as_user() {
  runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$W_DIR" USER="$user" LOGNAME="$user" \
    SLURM_CONF="$SLURM_CONF" "$@"
}
as_user srun -n 1 id -u >"$W_DIR/id.txt" 2>&1 || { cat "$W_DIR/id.txt"; fail "srun as $user"; }
[ "$(cat "$W_DIR/id.txt")" = "$uid" ] || fail "srun ran as '$(cat "$W_DIR/id.txt")', want uid $uid"
out=$W_DIR/job.out
jid=$(as_user CONFIG="$W_DIR/mnist_mlp.ini" MAX_RESTARTS=1 ZTRAIN="$W_DIR/bin/ztrain" \
  SETS="--set data.path=$W_DIR/data/mnist.h5 --set train.steps=$HUGE --set ckpt.every=0 --set eval.every=0 --set log.every=100 --set ckpt.dir=$W_DIR/ckpt --set log.metrics=" \
  sbatch --parsable --chdir="$W_DIR" --nodes=1 --ntasks-per-node=2 --output="$out" "$W_DIR/train.sbatch") \
  || fail "sbatch as $user"
echo "job $jid submitted by $user (uid $uid)"
scontrol show job "$jid" | grep -q "UserId=$user($uid)" || fail "job $jid does not belong to $user"
wait_for 120 grep -q "step .*100/$HUGE" "$out" || fail "job did not start training"
as_user scancel --signal=USR2 "$jid" || fail "scancel --signal as $user"
wait_for 60 grep -q "requeueing (the next" "$out" || fail "no requeue after the signal"
s1=$(stop_step "$out" 1)
[ -n "$s1" ] || fail "ranks did not agree to stop"
wait_for 180 grep -q "resumed from " "$out" || fail "requeued job did not resume"
grep -q "resumed from .*ckpt/step-$(printf %08d "$s1") (step $s1, " "$out" || fail "did not resume from step $s1"
as_user scancel --signal=USR2 "$jid" || fail "second scancel --signal as $user"
wait_for 60 grep -q "restart limit 1 reached: not requeueing" "$out" || fail "resumed run did not stop on the signal"
s2=$(stop_step "$out" 2)
[ -n "$s2" ] && [ "$s2" -gt "$s1" ] || fail "resumed run stopped at '$s2', want a step after $s1"
for f in "$out" "$W_DIR/ckpt/latest" "$W_DIR/ckpt/step-$(printf %08d "$s2")"; do
  [ "$(stat -c %u "$f")" = "$uid" ] || fail "$f is not owned by $user"
done
grep -E "job $jid restart|resumed from|stop signal" "$out"
echo "PASS: $user submitted, signalled (step $s1), requeued, resumed at $s1, stopped at $s2"
