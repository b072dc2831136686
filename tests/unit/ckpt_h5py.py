#!/usr/bin/python3
"""Checks a checkpoint's index.h5 with h5py (Debian python3-h5py), from whatever cwd.

  ckpt_h5py.py tensor INDEX DSET EXPECTED.bin SHAPE    INDEX[DSET] == raw <f4 file, shape "5,7"
  ckpt_h5py.py export INDEX EXPORT.h5                  every /param/<name> in EXPORT equals INDEX's
  ckpt_h5py.py nan    INDEX DSET                       prints how many NaN (fill) INDEX[DSET] reads as
Exit 0 when equal, 1 with a message otherwise.
"""
import sys

import h5py
import numpy as np


def main(argv):
    mode = argv[1]
    if mode == "tensor":
        index, dset, exp, shape = argv[2], argv[3], argv[4], tuple(int(x) for x in argv[5].split(","))
        with h5py.File(index, "r") as f:
            got = f[dset][...]
        want = np.fromfile(exp, dtype="<f4").reshape(shape)
        if got.shape != want.shape:
            print(f"{dset}: shape {got.shape}, expected {want.shape}")
            return 1
        if not np.array_equal(got, want):
            bad = np.argwhere(got != want)
            print(f"{dset}: {len(bad)} values differ, first at {tuple(bad[0])}: {got[tuple(bad[0])]} != {want[tuple(bad[0])]}")
            return 1
        print(f"{dset}: {got.shape} equal")
        return 0
    if mode == "export":
        index, export = argv[2], argv[3]
        n = 0
        with h5py.File(index, "r") as fi, h5py.File(export, "r") as fe:
            for name in fi["param"]:
                a, b = fi["param"][name][...], fe["param"][name][...]
                if a.shape != b.shape or not np.array_equal(a, b):
                    print(f"/param/{name}: index {a.shape} and export {b.shape} differ")
                    return 1
                n += 1
            for key in ("step", "world", "stage", "seed"):
                if fi.attrs[key] != fe.attrs[key]:
                    print(f"attribute {key}: index {fi.attrs[key]}, export {fe.attrs[key]}")
                    return 1
        if n == 0:
            print("no tensors compared")
            return 1
        print(f"{n} tensors equal")
        return 0
    if mode == "nan":
        with h5py.File(argv[2], "r") as f:
            print(int(np.isnan(f[argv[3]][...]).sum()))
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
