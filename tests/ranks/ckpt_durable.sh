#!/usr/bin/env bash
# ckpt_durable.sh — the order that makes a checkpoint crash-safe, read off the
# system calls the ranks really make (strace), for synchronous saves (whose
# shard fsync runs on a background thread after the training thread wrote
# the file) and asynchronous ones: for every committed step N,
#   - every rank's shard file of step N was fsynced before rank 0 renamed
#     .tmp-step-N to step-N, and
#   - index.h5 was fsynced before that rename, and `latest` was renamed to
#     name step N only after it;
# and the W=2 run's checkpoint verifies and resumes.
. "$(dirname "$0")/lib.sh"
command -v strace >/dev/null || fail "strace is not installed (scripts/setup.sh installs it)"
cfg=(--config "$SRC/tests/ranks/tiny_mlp.ini" --set data.path="$DATA/mnist.h5" --set train.steps=6
     --set ckpt.every=1 --set ckpt.keep_last=0)
for mode in false true; do
  d="$T/ck-$mode"
  rm -f "$T"/st.*
  # -y: every fd argument is printed with its path; -f: all threads (the
  # fsync and commit threads too), -ff one file per thread (st.TID: the two
  # ranks' straces never write one file); -tt: one clock for both ranks
  "$LAUNCH" -n 2 -- strace -ff -y -tt -e trace=fsync,fdatasync,rename,renameat2 -o "$T/st" \
      "$ZT" train "${cfg[@]}" --set ckpt.async=$mode --set ckpt.dir="$d" >"$T/log" 2>&1 ||
    { cat "$T/log"; fail "async=$mode: training under strace failed"; }
  "$ZT" ckpt verify "$d" >/dev/null || fail "async=$mode: latest does not verify"
  "$PY" - "$T" "$d" "$mode" <<'PY' || fail "async=$mode: the durable order does not hold (above)"
import glob, os, re, sys
T, root, mode = sys.argv[1], os.path.normpath(sys.argv[2]), sys.argv[3]
ev = re.compile(r'^(\d+):(\d+):(\d+\.\d+) (fsync|fdatasync|rename|renameat2)\((.*)\) += (-?\d+)')
fsynced, renames = {}, []   # path -> first fsync time; (time, destination)
for l in (l for f in glob.glob(os.path.join(T, "st.*")) for l in open(f)):
    m = ev.match(l)
    if not m or int(m.group(6)) != 0: continue
    t = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    if m.group(4).startswith("f"):
        p = re.search(r'<([^>]*)>', m.group(5))
        if p: fsynced.setdefault(os.path.normpath(p.group(1)), t)
    else:
        ps = re.findall(r'"([^"]*)"', m.group(5))
        renames.append((t, os.path.normpath(ps[-1])))
steps = sorted(glob.glob(os.path.join(root, "step-*")))
assert steps, "no step dirs under " + root
n = 0
for sd in steps:
    tr = min((t for t, d in renames if d == sd), default=None)
    assert tr is not None, f"no rename to {sd} seen"
    tmp = os.path.join(root, ".tmp-" + os.path.basename(sd))
    for name in sorted(os.listdir(sd)):
        if not (name.startswith("shard-") or name == "index.h5"): continue
        tf = fsynced.get(os.path.join(tmp, name))
        assert tf is not None, f"{tmp}/{name} was never fsynced"
        assert tf < tr, f"{tmp}/{name} fsynced {tf - tr:+.6f} s after the rename to {sd}"
        n += 1
    tl = [t for t, d in renames if d == os.path.join(root, "latest") and t > tr]
    assert tl, f"latest never renamed after {sd} was"
print(f"async={mode}: {len(steps)} checkpoints; {n} shard and index files, each fsynced before its step's rename; latest renamed after each")
PY
done
# the same checkpoint resumes (a W=2 run that goes 2 steps further)
run_w 2 train "${cfg[@]}" --set ckpt.dir="$T/ck-false" --set train.steps=8 >"$T/log" 2>&1 ||
  { cat "$T/log"; fail "resume from the strace run's checkpoint"; }
grep -q "resumed from .*step-00000006" "$T/log" || { cat "$T/log"; fail "did not resume step 6"; }
echo "PASS: shards and index fsynced before every commit's rename, sync and async"
