# data_idx.sh — `ztrain data prep idx`: Debian's Fashion-MNIST (installed by
# scripts/setup.sh: dataset-fashion-mnist), small IDX files written here (gzip
# and plain, both name spellings) read back value for value with h5py, and
# malformed IDX files refused with exit 4 and a line naming the file.
source "$(dirname "$0")/lib.sh"
FM=/usr/share/datasets/fashion-mnist
[ -f "$FM/train-images-idx3-ubyte.gz" ] || fail "$FM missing: scripts/setup.sh installs dataset-fashion-mnist"

# 1. the real thing: 60,000 / 10,000 images, 6,000 / 1,000 per class
"$ZT" data prep idx "$T/fm.h5" >"$T/out" 2>&1 || { cat "$T/out"; fail "prep idx of $FM"; }
"$ZT" data check "$T/fm.h5" >"$T/check" 2>&1 || { cat "$T/check"; fail "data check of fashion-mnist"; }
cat "$T/check"
grep -q "kind images" "$T/check" || fail "check: kind"
grep -q "/train/images   uint8 \[60000,28,28,1\]" "$T/check" || fail "check: train shape"
grep -q "/test/images    uint8 \[10000,28,28,1\]" "$T/check" || fail "check: test shape"
grep -q "per class: 6000 6000 6000 6000 6000 6000 6000 6000 6000 6000$" "$T/check" || fail "check: train classes"
grep -q "per class: 1000 1000 1000 1000 1000 1000 1000 1000 1000 1000$" "$T/check" || fail "check: test classes"
# every byte as in the IDX files (python's own gzip reader, an independent path)
"$PY" - "$FM" "$T/fm.h5" <<'PY' || fail "fashion-mnist values differ from the IDX files"
import gzip, sys, h5py, numpy as np
d, out = sys.argv[1], sys.argv[2]
def idx(p, off): return np.frombuffer(gzip.open(p).read(), np.uint8, offset=off)
with h5py.File(out) as f:
    assert f.attrs["kind"] in (b"images", "images") and int(f.attrs["n_classes"]) == 10
    for s, g in (("train", "train"), ("t10k", "test")):
        im = idx(f"{d}/{s}-images-idx3-ubyte.gz", 16)
        lb = idx(f"{d}/{s}-labels-idx1-ubyte.gz", 8)
        assert np.array_equal(f[g]["images"][...].reshape(-1), im), g
        assert np.array_equal(f[g]["labels"][...], lb), g
print("fashion-mnist: every pixel and label matches the IDX files")
PY

# 2. small IDX files: 7 train / 3 test images of 5x4, gzip'd and plain
mk() {  # mk DIR GZ SEP [FAULT]
    "$PY" - "$@" <<'PY'
import gzip, os, struct, sys
d, gz, sep = sys.argv[1], sys.argv[2] == "gz", sys.argv[3]
fault = sys.argv[4] if len(sys.argv) > 4 else ""
os.makedirs(d, exist_ok=True)
for split, n in (("train", 7), ("t10k", 3)):
    px = bytes((i * 37 + n) % 256 for i in range(n * 5 * 4))
    lab = bytes((i * 3 + n) % 10 for i in range(n))
    im = b"\0\0\x08\x03" + struct.pack(">III", n, 5, 4) + px
    lb = b"\0\0\x08\x01" + struct.pack(">I", n) + lab
    if split == "train" and fault == "magic": im = b"\0\0\x0b\x03" + im[4:]
    if split == "train" and fault == "count": lb = b"\0\0\x08\x01" + struct.pack(">I", n - 1) + lab[:-1]
    if split == "train" and fault == "trunc": im = im[:-9]
    if split == "train" and fault == "extra": lb = lb + b"\0"
    if split == "train" and fault == "label": lb = lb[:-1] + b"\x0a"
    for what, nd, data in (("images", 3, im), ("labels", 1, lb)):
        p = f"{d}/{split}-{what}{sep}idx{nd}-ubyte" + (".gz" if gz else "")
        (gzip.open if gz else open)(p, "wb").write(data)
PY
}
check_small() {  # check_small H5 : values as written by mk
    "$PY" - "$1" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1]) as f:
    for g, n in (("train", 7), ("test", 3)):
        x = f[g]["images"][...]
        assert x.shape == (n, 5, 4, 1), x.shape
        assert np.array_equal(x.reshape(-1), np.array([(i * 37 + n) % 256 for i in range(n * 20)], np.uint8))
        assert np.array_equal(f[g]["labels"][...], np.array([(i * 3 + n) % 10 for i in range(n)], np.uint8))
PY
}
for v in "gz -" "plain -" "gz ." "plain ."; do
    set -- $v
    mk "$T/s_$1$2" "$1" "$2"
    "$ZT" data prep idx "$T/s.h5" "$T/s_$1$2" >"$T/out" 2>&1 || { cat "$T/out"; fail "prep idx ($1, '$2')"; }
    check_small "$T/s.h5" || fail "small IDX ($1, '$2') read back wrong"
    "$ZT" data check "$T/s.h5" >"$T/check" 2>&1 || { cat "$T/check"; fail "data check small ($1)"; }
    grep -q "5x4x1 (H,W,C), 20 floats per row" "$T/check" || { cat "$T/check"; fail "check: 5x4x1"; }
    echo "ok: small IDX files, $1, separator '$2'"
done

# 3. malformed inputs: exit 4, one line naming the file and the problem
bad() {  # bad FAULT GZ FILE WHAT
    rm -rf "$T/b"; mk "$T/b" "$2" - "$1"
    expect_exit 4 "$ZT" data prep idx "$T/b.h5" "$T/b"
    grep -q "$3.*$4" "$T/err" || { cat "$T/err"; fail "fault $1 ($2): no '$3 ... $4'"; }
    [ ! -e "$T/b.h5" ] || fail "fault $1: an output file was left"
    echo "ok: $1 ($2): $(grep -o "data prep idx: .*" "$T/err")"
}
bad magic gz "$T/b/train-images-idx3-ubyte.gz" "bad magic 00 00 0b 03"
bad magic plain "$T/b/train-images-idx3-ubyte" "bad magic"
bad count gz "$T/b/train-labels-idx1-ubyte.gz" "size mismatch: 6 labels, but .*has 7 images"
bad trunc gz "$T/b/train-images-idx3-ubyte.gz" "truncated"
bad trunc plain "$T/b/train-images-idx3-ubyte" "truncated: the data its header declares needs 140 bytes, the file holds 131"
bad extra plain "$T/b/train-labels-idx1-ubyte" "size mismatch: more data than its header declares"
bad label gz "$T/b/train-labels-idx1-ubyte.gz" "label 10 at index 6 is out of range"
# a gzip file cut short inside the compressed stream
mk "$T/c" gz -
head -c 40 "$T/c/t10k-images-idx3-ubyte.gz" >"$T/c/cut" && mv "$T/c/cut" "$T/c/t10k-images-idx3-ubyte.gz"
expect_exit 4 "$ZT" data prep idx "$T/c.h5" "$T/c"
grep -q "t10k-images-idx3-ubyte.gz: truncated" "$T/err" || { cat "$T/err"; fail "cut gzip"; }
rm "$T/c/t10k-labels-idx1-ubyte.gz"
expect_exit 4 "$ZT" data prep idx "$T/c.h5" "$T/c"
grep -q "t10k-labels-idx1-ubyte.gz: missing" "$T/err" || { cat "$T/err"; fail "missing file"; }
echo "PASS: data prep idx"
