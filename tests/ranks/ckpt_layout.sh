#!/usr/bin/env bash
# ckpt_layout.sh — ckpt.layout = per-node (one shard file per node, the
# node's ranks gather to its first rank) and resume across layouts and W.
# Nodes under mpirun: ZT_TEST_NODE_SPLIT=K puts rank r on node r / K; without
# it all ranks of this host are one node.
#  1. W=4 stage 3, 2 nodes of 2: stop at step 3 -> 2 shard files, verify ok;
#     resume per-rank at W=3 stage 0 to step 6: within 1e-5 of W=1.
#  2. W=2 per-rank to step 3; resume per-node at W=3 (nodes of 2 and 1),
#     async saves at 4 and 6 -> 2 files; its params at step 6 within 1e-5.
#  3. W=2 per-node, one host = one node: 1 shard file; resume at W=1.
. "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"
common=(--config "$cfg" --set data.path="$DATA/mnist.h5" --set train.steps=6 --set ckpt.keep_last=0)
run_w 1 train "${common[@]}" --dump-params "$T/ref.bin" >"$T/log" 2>&1 || { cat "$T/log"; fail "reference"; }
files() { (cd "$1" && ls shard-*.h5 | tr '\n' ' '); }

# 1.
d=$T/a; rc=0
ZT_TEST_NODE_SPLIT=2 run_w 4 train "${common[@]}" --set train.zero_stage=3 --set ckpt.dir="$d" \
    --set ckpt.layout=per-node --stop-at 3 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "per-node leg exited $rc, want 3"; }
grep -q "ckpt.layout=per-node: 2 shard files for 4 ranks" "$T/log" || { cat "$T/log"; fail "no per-node note"; }
[ "$(files "$d/step-00000003")" = "shard-00000-of-00002.h5 shard-00001-of-00002.h5 " ] \
    || fail "per-node step dir holds: $(files "$d/step-00000003")"
"$ZT" ckpt verify "$d" >"$T/out" 2>&1 || { cat "$T/out"; fail "ckpt verify of the per-node checkpoint"; }
"$ZT" ckpt info "$d" >"$T/out" 2>&1 || { cat "$T/out"; fail "ckpt info"; }
grep -q "per-node, 2 shard files for 4 ranks" "$T/out" || { cat "$T/out"; fail "ckpt info does not show the layout"; }
# every tensor readable through the index (h5py, the VDS) and equal to the shards
"$PY" - "$d/step-00000003" <<'PY' || fail "h5py through the per-node index"
import sys, h5py, numpy as np
d = sys.argv[1]
with h5py.File(d + "/index.h5", "r") as f:
    lo, hi = f.attrs["shard_lo"], f.attrs["shard_hi"]
    names = [n.decode() for n in f["layout/names"][...]]
    offs = f["layout/offset"][...]
    flat = np.empty(int(f.attrs["n_flat"]), np.float32)
    for i in range(len(lo)):
        with h5py.File(f"{d}/shard-{i:05d}-of-{len(lo):05d}.h5", "r") as s:
            for n, o in zip(names, offs):
                if n in s["param"]:
                    ds = s["param"][n]; a = int(ds.attrs["offset"]) + int(o)
                    flat[a:a + ds.shape[0]] = ds[...]
    for n, o in zip(names, offs):
        v = f["param"][n][...]
        assert not np.isnan(v).any(), n
        assert np.array_equal(v.ravel(), flat[int(o):int(o) + v.size]), n
print("h5py: every tensor equal through the per-node index")
PY
run_w 3 train "${common[@]}" --set ckpt.dir="$d" --dump-params "$T/res1.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "per-rank resume at W=3 from the per-node checkpoint"; }
grep -q "resumed from .*step-00000003 (step 3, written by W=4 stage 3; now W=3 stage 0)" "$T/log" \
    || { cat "$T/log"; fail "did not resume from the per-node step 3"; }
echo -n "per-node W=4 -> per-rank W=3: "; cmp_params "$T/ref.bin" "$T/res1.bin" 1e-5 || fail "out of tolerance"

# 2.
d=$T/b; rc=0
run_w 2 train "${common[@]}" --set train.zero_stage=1 --set ckpt.dir="$d" --stop-at 3 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "per-rank leg exited $rc, want 3"; }
ZT_TEST_NODE_SPLIT=2 run_w 3 train "${common[@]}" --set train.zero_stage=2 --set ckpt.dir="$d" \
    --set ckpt.layout=per-node --set ckpt.every=2 --set ckpt.async=true --dump-params "$T/res2.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "per-node resume at W=3"; }
grep -q "written by W=2 stage 1; now W=3 stage 2" "$T/log" || { cat "$T/log"; fail "did not resume from the per-rank step 3"; }
grep -q "step-00000004 committed (.*async" "$T/log" || { cat "$T/log"; fail "no async per-node save at step 4"; }
[ "$(files "$d/step-00000006")" = "shard-00000-of-00002.h5 shard-00001-of-00002.h5 " ] \
    || fail "per-node (2+1 ranks) step dir holds: $(files "$d/step-00000006")"
"$ZT" ckpt verify "$d" >"$T/out" 2>&1 || { cat "$T/out"; fail "ckpt verify of step 6"; }
echo -n "per-rank W=2 -> per-node W=3: "; cmp_params "$T/ref.bin" "$T/res2.bin" 1e-5 || fail "out of tolerance"
# the per-node step 4 resumes at W=1 and ends where the run did
run_w 1 train "${common[@]}" --set ckpt.resume="$d/step-00000004" --dump-params "$T/res3.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "W=1 resume from the per-node step 4"; }
echo -n "per-node W=3 step 4 -> W=1: "; cmp_params "$T/ref.bin" "$T/res3.bin" 1e-5 || fail "out of tolerance"

# 3.
d=$T/c; rc=0
run_w 2 train "${common[@]}" --set ckpt.dir="$d" --set ckpt.layout=per-node --stop-at 3 >"$T/log" 2>&1 || rc=$?
[ $rc = 3 ] || { cat "$T/log"; fail "one-node leg exited $rc, want 3"; }
[ "$(files "$d/step-00000003")" = "shard-00000-of-00001.h5 " ] || fail "one node wrote: $(files "$d/step-00000003")"
run_w 1 train "${common[@]}" --set ckpt.dir="$d" --dump-params "$T/res4.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "W=1 resume from the one-node checkpoint"; }
echo -n "per-node W=2 (one node) -> W=1: "; cmp_params "$T/ref.bin" "$T/res4.bin" 1e-5 || fail "out of tolerance"
# a bad value is a config error
expect_exit 2 "$ZT" train "${common[@]}" --set ckpt.layout=per-host
grep -q "ckpt.layout" "$T/err" || fail "bad ckpt.layout not named: $(cat "$T/err")"
echo "PASS: per-node and per-rank layouts resume into each other at other W"
