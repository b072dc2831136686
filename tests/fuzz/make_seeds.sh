#!/usr/bin/env bash
# make_seeds.sh ZTRAIN — regenerate the seed corpora under tests/fuzz/corpus
# (kept in git; run by hand when a file format changes). Every seed is small
# (a few KB) so that 60 s of fuzzing mutates real structure, not bulk data.
#   config:  the shipped configs, the test configs, one with --set overrides
#   dataset: a text file from `ztrain data prep text` on a 200-byte text, an
#            mnist file (4 train + 2 test images) in prep's layout via h5py,
#            an images [N,3,2,3] and a features [N,5] file (datasets/FORMAT.md)
#   ckpt:    mode byte 0 + ckpt_base/index.h5, mode byte 1 + shard 0
set -euo pipefail
ZT=${1:?usage: make_seeds.sh path/to/ztrain}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
c=$here/corpus
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
rm -rf "$c" && mkdir -p "$c"/{config,dataset,ckpt}

cp "$src"/configs/*.ini "$src"/tests/ranks/tiny_*.ini "$c/config/"
printf '[model]\nname = gpt\nctx = 16\n[train]\nzero_stage = 3\n%%%%\ntrain.steps=7\noptim.name=sgd\nckpt.async=no\n' \
    >"$c/config/with_sets.ini"

printf 'To be or not to be, that is the question.\nAll that glitters is not gold.\n%.0s' 1 2 3 >"$t/text.txt"
"$ZT" data prep text "$c/dataset/text.h5" "$t/text.txt" >/dev/null
/usr/bin/python3 - "$c/dataset/mnist.h5" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w", track_order=False) as f:
    for split, n in (("train", 4), ("test", 2)):
        f.create_dataset(f"/{split}/images", data=rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        f.create_dataset(f"/{split}/labels", data=np.arange(n, dtype=np.uint8) % 10)
    f.attrs["n_train"] = np.uint64(4)
    f.attrs["n_test"] = np.uint64(2)
PY
/usr/bin/python3 - "$c/dataset" <<'PY'
import sys, h5py, numpy as np
rng = np.random.default_rng(2)
with h5py.File(sys.argv[1] + "/images.h5", "w", track_order=False) as f:   # [N,H,W,C], int16 labels, /val
    f.attrs["kind"] = "images"; f.attrs["n_classes"] = 3
    for split, n in (("train", 4), ("val", 2)):
        f.create_dataset(f"/{split}/images", data=rng.integers(0, 256, (n, 3, 2, 3), dtype=np.uint8))
        f.create_dataset(f"/{split}/labels", data=np.arange(n, dtype=np.int16) % 3)
with h5py.File(sys.argv[1] + "/features.h5", "w", track_order=False) as f:   # [N,D] float32, int64 labels
    f.attrs["kind"] = "features"; f.attrs["n_classes"] = 5
    for split, n in (("train", 4), ("test", 2)):
        f.create_dataset(f"/{split}/features", data=rng.normal(0, 1, (n, 5)).astype(np.float32))
        f.create_dataset(f"/{split}/labels", data=np.arange(n, dtype=np.int64) % 5)
PY
{ printf '\0'; cat "$here/ckpt_base/index.h5"; } >"$c/ckpt/index"
{ printf '\1'; cat "$here/ckpt_base/shard-00000-of-00002.h5"; } >"$c/ckpt/shard0"
ls -l "$c"/*
