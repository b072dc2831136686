#!/usr/bin/env bash
# install_check.sh BUILD_DIR SRC_DIR — `cmake --install` into a fresh prefix
# (no Slurm needed): every file in place, modulefiles naming the prefix,
# `ztrain --version` from the prefix (version line + features line, the same
# version as the build tree's binary), and, where Lmod is installed,
# `module load ztrain` putting <prefix>/bin/ztrain first on PATH.
set -uo pipefail
build=${1:?build dir} src=${2:?source dir}
P=$(mktemp -d /tmp/zt-install.XXXXXX)
trap 'rm -rf "$P"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cmake --install "$build" --prefix "$P" >"$P.log" 2>&1 || { cat "$P.log"; rm -f "$P.log"; fail "cmake --install"; }
rm -f "$P.log"
ver=$(sed -n 's/^project(ztrain VERSION \([^ ]*\) .*/\1/p' "$src/CMakeLists.txt")
for f in bin/ztrain bin/ztrain-launch share/ztrain/sbatch/train.sbatch share/ztrain/sbatch/nightly.sbatch \
         share/ztrain/configs/mnist_mlp.ini share/ztrain/configs/fortunes_gpt.ini share/doc/ztrain/README.md \
         "share/ztrain/modulefiles/ztrain/$ver" "share/ztrain/modulefiles/ztrain/$ver.lua"; do
  [ -e "$P/$f" ] || fail "not installed: $f"
done
[ -x "$P/bin/ztrain" ] && [ -x "$P/share/ztrain/sbatch/train.sbatch" ] || fail "not executable"
grep -qxF "set root $P" "$P/share/ztrain/modulefiles/ztrain/$ver" || fail "Tcl modulefile does not name $P"
grep -qF "local root = \"$P\"" "$P/share/ztrain/modulefiles/ztrain/$ver.lua" || fail "Lua modulefile does not name $P"
out=$("$P/bin/ztrain" --version) || fail "ztrain --version exited $?"
echo "$out"
grep -Eq '^ztrain [^ ]+ \((git describe|project version)\)$' <<<"$(head -1 <<<"$out")" || fail "version line: $out"
grep -Eq '^features: [+-]cuda [+-]nccl [+-]onednn [+-]sentencepiece$' <<<"$out" || fail "features line: $out"
[ "$out" = "$("$build/trainer/ztrain" --version)" ] || fail "installed and build-tree versions differ"
lmod=/usr/share/lmod/lmod/init/bash
if [ -r "$lmod" ]; then
  got=$(bash -c "source $lmod >/dev/null 2>&1; module use $P/share/ztrain/modulefiles && module load ztrain && command -v ztrain && echo \$ZTRAIN_ROOT") ||
    fail "module load ztrain"
  [ "$got" = "$P/bin/ztrain"$'\n'"$P" ] || fail "after module load: '$got'"
  echo "module load ztrain (Lmod): $P/bin/ztrain, ZTRAIN_ROOT=$P"
else
  echo "(Lmod not installed: module load not tried)"
fi
echo "PASS: installed into $P"
