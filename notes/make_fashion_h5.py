# Throwaway: Fashion-MNIST IDX (Debian dataset-fashion-mnist) -> the current
# mnist HDF5 layout, until `ztrain data prep idx` lands. Usage:
#   /usr/bin/python3 notes/make_fashion_h5.py data/fashion.h5
import gzip, sys, struct, hashlib
import numpy as np, h5py
D = "/usr/share/datasets/fashion-mnist/"
def idx(name):
    b = gzip.open(D + name).read()
    nd = b[3]; dims = struct.unpack(">" + "I" * nd, b[4:4 + 4 * nd])
    return np.frombuffer(b, np.uint8, offset=4 + 4 * nd).reshape(dims), hashlib.sha256(b).hexdigest()
xtr, h = idx("train-images-idx3-ubyte.gz"); ytr, _ = idx("train-labels-idx1-ubyte.gz")
xte, _ = idx("t10k-images-idx3-ubyte.gz"); yte, _ = idx("t10k-labels-idx1-ubyte.gz")
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["kind"] = np.bytes_("mnist")
    f.attrs["n_test"] = np.uint64(len(xte)); f.attrs["n_train"] = np.uint64(len(xtr))
    f.attrs["sha256"] = np.bytes_(h); f.attrs["source"] = np.bytes_("fashion-mnist idx " + D)
    f.attrs["split_seed"] = np.uint64(0)
    for s, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        g = f.create_group(s); g["images"] = x; g["labels"] = y
