# data_schema.sh — a user's own data (datasets/FORMAT.md), written with h5py:
# images of another size (12x10x3, 3 classes, int64 labels, /val) and
# features of another width (D=37, 17 classes, int32 labels, /test) pass
# `ztrain data check` and train with the MLP at W=2, which takes its input
# width and class count from the file (checked through the parameter count);
# broken files exit 4 naming the problem, in `data check` and in training.
source "$(dirname "$0")/lib.sh"
cfg="$SRC/tests/ranks/tiny_mlp.ini"   # hidden 32,16

write() {  # write OUT CASE
    "$PY" - "$@" <<'PY'
import sys, h5py, numpy as np
out, case = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(5)
def images(f, split, n, K, ltype):
    y = (np.arange(n) * 7 % K).astype(ltype)
    x = rng.integers(0, 60, (n, 12, 10, 3), dtype=np.uint8)
    x[np.arange(n), y % 12, :, y % 3] = 255          # a learnable stripe per class
    f.create_dataset(f"{split}/images", data=x)
    f.create_dataset(f"{split}/labels", data=y)
def features(f, split, n, K, ltype):
    y = (np.arange(n) * 5 % K).astype(ltype)
    x = rng.normal(0, 1, (n, 37)).astype(np.float32)
    x[np.arange(n), y % 37] += 3
    f.create_dataset(f"{split}/features", data=x)
    f.create_dataset(f"{split}/labels", data=y)
with h5py.File(out, "w") as f:
    if case == "images3":
        f.attrs["kind"] = "images"; f.attrs["n_classes"] = 3
        images(f, "train", 96, 3, np.int64); images(f, "val", 30, 3, np.int64)
    elif case == "features17":
        f.attrs["kind"] = "features"; f.attrs["n_classes"] = 17
        features(f, "train", 120, 17, np.int32); features(f, "test", 40, 17, np.int32)
    elif case == "wrong_dtype":          # images stored as float32
        f.attrs["kind"] = "images"; f.attrs["n_classes"] = 3
        f.create_dataset("train/images", data=np.zeros((48, 12, 10, 3), np.float32))
        f.create_dataset("train/labels", data=np.zeros(48, np.int64))
    elif case == "label_range":          # label 3 with n_classes 3, at row 41
        f.attrs["kind"] = "images"; f.attrs["n_classes"] = 3
        images(f, "train", 96, 3, np.int64); images(f, "val", 30, 3, np.int64)
        y = f["train/labels"][...]; y[41] = 3; f["train/labels"][...] = y
    elif case == "no_n_classes":
        f.attrs["kind"] = "features"
        features(f, "train", 120, 17, np.int32); features(f, "test", 40, 17, np.int32)
    elif case == "mismatched_n":         # 120 feature rows, 119 labels
        f.attrs["kind"] = "features"; f.attrs["n_classes"] = 17
        features(f, "train", 120, 17, np.int32); features(f, "test", 40, 17, np.int32)
        y = f["train/labels"][:119]; del f["train/labels"]; f["train/labels"] = y
PY
}

# expected MLP parameters: in -> 32 -> 16 -> K, weights and biases
params() { echo $(( $1 * 32 + 32 + 32 * 16 + 16 + 16 * $2 + $2 )); }

train_ok() {  # train_ok FILE IN_DIM N_CLASSES WHAT
    local f=$1 in=$2 k=$3 what=$4
    "$ZT" data check "$f" >"$T/check" 2>&1 || { cat "$T/check"; fail "$what: data check"; }
    cat "$T/check"
    run_w 2 train --config "$cfg" --set data.path="$f" --set train.steps=6 --set eval.every=3 \
        --set log.metrics="$T/$what.jsonl" >"$T/log" 2>&1 || { cat "$T/log"; fail "$what: training at W=2"; }
    grep -E "eval step 6: (val|test) loss" "$T/log" || { cat "$T/log"; fail "$what: no evaluation"; }
    "$PY" - "$T/$what.jsonl" "$(params "$in" "$k")" <<'PY' || fail "$what: metrics"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
mem = [r for r in rows if r.get("event") == "memory"][0]
assert mem["params"] == int(sys.argv[2]), f"params {mem['params']}, expected {sys.argv[2]}"
assert mem["world"] == 2
ev = [r for r in rows if "eval_acc" in r and "summary" not in r]
assert ev and all(0 <= r["eval_acc"] <= 1 and math.isfinite(r["eval_loss"]) for r in ev), ev
print(f"params {mem['params']} = MLP {sys.argv[2]} as expected; eval {ev[-1]}")
PY
    echo "ok: $what trains at W=2"
}

write "$T/img.h5" images3
train_ok "$T/img.h5" 360 3 images_12x10x3
grep -q "img.h5: kind images$" "$T/check" || fail "check: the kind attribute (h5py's UTF-8 string) was not read"
grep -q "12x10x3 (H,W,C), 360 floats per row" "$T/check" || fail "check: 12x10x3"
grep -q "/train/labels   int64 \[96\], classes 0..2, per class: 32 32 32" "$T/check" || fail "check: classes"
write "$T/feat.h5" features17
train_ok "$T/feat.h5" 37 17 features_37
grep -q "feat.h5: kind features$" "$T/check" || fail "check: kind features"
grep -q "/train/features float32 \[120,37\] -> 37 floats per row" "$T/check" || fail "check: D=37"
grep -q "classes 0..16, per class: 8 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7 7$" "$T/check" || fail "check: 17 classes"

bad() {  # bad CASE WHAT
    write "$T/bad.h5" "$1"
    expect_exit 4 "$ZT" data check "$T/bad.h5"
    grep -q "$T/bad.h5: $2" "$T/err" || { cat "$T/err"; fail "$1: data check does not say '$2'"; }
    echo "ok: $1: $(cat "$T/err")"
    expect_exit 4 run_w 2 train --config "$cfg" --set data.path="$T/bad.h5" --set train.steps=2
    grep -q "$T/bad.h5: $2" "$T/err" || { cat "$T/err"; fail "$1: training does not say '$2'"; }
}
bad wrong_dtype "dataset /train/images: expected uint8 \[N,H,W,C\] or \[N,H,W\], got float32 \[48,12,10,3\]"
bad label_range "dataset /train/labels: label 3 at row 41 is out of range \[0,3)"
bad no_n_classes "attribute /n_classes: missing or not an integer (needed for dataset /train/features)"
bad mismatched_n "dataset /train/labels: 119 labels, but /train/features has 120 rows"
# the other layouts: tokens (the fortunes corpus), and an mnist file from
# before the kind attribute (no kind, no n_classes: 10 classes)
"$ZT" data check "$DATA/fortunes.h5" >"$T/check" 2>&1 || { cat "$T/check"; fail "data check of a tokens file"; }
grep -q "kind tokens$" "$T/check" && grep -q "tokenizer char, vocab_size" "$T/check" \
    && grep -q "val   /val/tokens uint8" "$T/check" || { cat "$T/check"; fail "tokens summary"; }
"$PY" - "$T/old.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    for split, n in (("train", 30), ("test", 10)):
        f[f"{split}/images"] = np.full((n, 28, 28), 7, np.uint8)
        f[f"{split}/labels"] = (np.arange(n) % 10).astype(np.uint8)
PY
"$ZT" data check "$T/old.h5" >"$T/check" 2>&1 || { cat "$T/check"; fail "data check of an old mnist file"; }
grep -q "kind images (no kind attribute: the older mnist layout)" "$T/check" \
    && grep -q "classes 0..9, per class: 3 3 3 3 3 3 3 3 3 3$" "$T/check" || { cat "$T/check"; fail "old layout"; }
expect_exit 2 "$ZT" data check
expect_exit 2 "$ZT" data check "$T/old.h5" "$T/img.h5"
expect_exit 4 "$ZT" data check "$T/none.h5"
grep -q "none.h5: missing" "$T/err" || fail "missing file: $(cat "$T/err")"
echo "PASS: users' own images and features files check and train; broken ones exit 4 naming the problem"
