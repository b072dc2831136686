#!/usr/bin/env bash
# e2e_install.sh — ztrain as cluster software: `cmake --install` into a fresh
# prefix, then a job submitted from the installed share/ztrain/sbatch/
# train.sbatch with only PATH pointing at the prefix (ZTRAIN and CONFIG
# unset: the template finds bin/ztrain on PATH and the installed config).
# Checks: the installed files, `ztrain --version`, the job finishing, and the
# version recorded in the metrics file's first record and in the checkpoint
# index (root attribute writer_version).
# Needs BUILD (the build directory) besides e2e_lib.sh's ZT, SRC, DATA.
set -uo pipefail
source "$(dirname "$0")/e2e_lib.sh"
require_cluster 1
BUILD=${BUILD:?}
P=$W_DIR/prefix
cmake --install "$BUILD" --prefix "$P" >"$W_DIR/install.log" 2>&1 || { cat "$W_DIR/install.log"; fail "cmake --install"; }
for f in bin/ztrain bin/ztrain-launch share/ztrain/sbatch/train.sbatch share/ztrain/sbatch/nightly.sbatch \
         share/ztrain/configs/mnist_mlp.ini share/doc/ztrain/README.md; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
ls "$P"/share/ztrain/modulefiles/ztrain/* >/dev/null 2>&1 || fail "no modulefile installed"
grep -qF "local root = \"$P\"" "$P"/share/ztrain/modulefiles/ztrain/*.lua || fail "Lua modulefile does not name $P"
grep -qxF "set root $P" "$P/share/ztrain/modulefiles/ztrain/$(sed -n 's/^project(ztrain VERSION \([^ ]*\) .*/\1/p' "$SRC/CMakeLists.txt")" ||
  fail "Tcl modulefile does not name $P"
ver=$("$P/bin/ztrain" --version) || fail "ztrain --version exited $?"
echo "$ver"
v=$(sed -n '1s/^ztrain \([^ ]*\) .*/\1/p' <<<"$ver")
[ -n "$v" ] && grep -q '^features: ' <<<"$ver" || fail "unexpected --version output"
out=$W_DIR/job.out
# what a user has after `module load ztrain`: with Lmod installed the real
# thing (the installed modulefile), else the prefix put on PATH by hand
upath="$P/bin:$PATH"
lmod=/usr/share/lmod/lmod/init/bash
if [ -r "$lmod" ]; then
  upath=$(env -u ZTRAIN bash -c "source $lmod >/dev/null 2>&1; module use $P/share/ztrain/modulefiles && module load ztrain && echo \$ZTRAIN_ROOT \$PATH") ||
    fail "module load ztrain"
  [ "${upath%% *}" = "$P" ] || fail "module load ztrain set ZTRAIN_ROOT=${upath%% *}, want $P"
  upath=${upath#* }
  echo "module load ztrain (Lmod): PATH starts with ${upath%%:*}"
fi
[ "$(PATH=$upath command -v ztrain)" = "$P/bin/ztrain" ] || fail "ztrain on PATH is not $P/bin/ztrain"
jid=$(env -u ZTRAIN -u CONFIG PATH="$upath" \
  SETS="--set data.path=$DATA/mnist.h5 --set train.steps=20 --set ckpt.every=10 --set eval.every=0 --set log.every=10 --set ckpt.dir=$W_DIR/ckpt --set log.metrics=$W_DIR/metrics.jsonl" \
  sbatch --parsable --chdir="$W_DIR" --export=ALL --nodes=1 --ntasks-per-node=2 --output="$out" \
  "$P/share/ztrain/sbatch/train.sbatch") || fail "sbatch"
wait_for 150 grep -qs "training finished\|not requeueing" "$out" || fail "job $jid did not finish"
grep -q "training finished" "$out" || fail "job $jid failed"
grep -qF "binary $P/bin/ztrain: ztrain $v " "$out" || fail "the job did not run $P/bin/ztrain $v"
"$PY" - "$W_DIR/metrics.jsonl" "$W_DIR/ckpt" "$v" <<'PY' || fail "version records"
import h5py, json, os, sys
metrics, ckpt, v = sys.argv[1:]
first = json.loads(open(metrics).readline())
assert first.get("event") == "start" and first.get("version") == v, f"metrics first record {first}, want version {v}"
step = os.path.join(ckpt, open(os.path.join(ckpt, "latest")).read().strip())
with h5py.File(os.path.join(step, "index.h5"), "r") as f:
    wv = f.attrs["writer_version"]
    wv = wv.decode() if isinstance(wv, bytes) else str(wv)
assert wv == v, f"index writer_version {wv!r}, want {v!r}"
print(f"metrics first record version {first['version']}, features {first['features']}; {step}/index.h5 writer_version {wv}")
PY
echo "PASS: installed into $P; job $jid ran $P/bin/ztrain from PATH; version $v recorded"
