#!/usr/bin/env bash
# ckpt_scale.sh W [W...] — the checkpoint format at W ranks, simulated in one
# process through the real library (bench/ckpt_scale.c): one process writes
# all shard files of a GPT-2 tensor table, ZeRO-3 partition, AdamW (params,
# m, v). Prints per W one line per measurement: shard writes, index.h5 write,
# commit, index size, zt_ck_open, h5py reading wte (the largest tensor, spread
# over the most shards) through its virtual dataset and checking every value,
# `ztrain ckpt verify` (CRC32 of every byte), and a resume at W'=W/2 and
# W'=W-1 (per rank: open + layout check + read of its partition, sampled).
#   env: MODEL (gpt2 | gpt2-medium), SCALE (1: full size; K divides V, T, C
#        by K: same tensors and pieces per shard, 1/K^2 of the bytes),
#        NODE (1: per-rank files; N: per-node, N ranks per file),
#        DIR (a temp dir under /tmp), KEEP (1: leave the checkpoint there),
#        H5PY (1; 0 skips the h5py line: minutes at W=16384 per-rank)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-gpt2}; SCALE=${SCALE:-1}; NODE=${NODE:-1}
[ $# -ge 1 ] || { echo "usage: bench/ckpt_scale.sh W [W...]" >&2; exit 2; }
[ -x build/bench/ckpt_scale ] || { echo "build first: cmake --build build" >&2; exit 2; }
echo "# $(date -u +%Y-%m-%dT%H:%MZ) model $MODEL scale $SCALE ranks/file $NODE; load $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
for W in "$@"; do
  d=${DIR:-$(mktemp -d /tmp/ckscale.XXXXXX)}
  rm -rf "$d/ck"
  out=$(build/bench/ckpt_scale --dir "$d/ck" --W "$W" --model "$MODEL" --scale "$SCALE" --node "$NODE")
  echo "$out" | grep -v '^expect'
  step=$d/ck/step-00000001
  [ "${H5PY:-1}" = 1 ] && /usr/bin/python3 - "$step/index.h5" "$SCALE" <<'PY'
import sys, time, h5py, numpy as np
t0 = time.monotonic()
with h5py.File(sys.argv[1], "r") as f:
    a = f["param/wte"][...]
t1 = time.monotonic()
i = np.arange(a.size, dtype=np.int64)   # wte is the first tensor: flat offset 0
want = ((i % 100003).astype(np.float32) * np.float32(1e-3)).reshape(a.shape)
bad = int((a != want).sum())
print(f"h5py_read_wte_s {t1 - t0:.3f} ({a.shape[0]}x{a.shape[1]}, {bad} values differ)")
sys.exit(1 if bad else 0)
PY
  t0=$(date +%s.%N)
  build/trainer/ztrain ckpt verify "$step" >/dev/null
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN{printf "ckpt_verify_s %.3f\n", b-a}'
  [ "${KEEP:-0}" = 1 ] || rm -rf "$d"
done
