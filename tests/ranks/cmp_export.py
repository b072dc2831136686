"""cmp_export.py A.h5 B.h5 — two `ztrain ckpt export --optim` files hold the
same tensors with the same BYTES: every dataset under /param and /optim, same
names, shapes, dtypes and raw bytes (no tolerance). Prints the count compared."""
import sys
import h5py

def tensors(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = (obj.dtype.str, obj.shape, obj[()].tobytes())
        f.visititems(visit)
    return out

a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
if not any(k.startswith("optim/") for k in a):
    sys.exit(f"FAIL: {sys.argv[1]}: no optimizer state (export without --optim?)")
if sorted(a) != sorted(b):
    sys.exit(f"FAIL: tensor names differ: {sorted(set(a) ^ set(b))[:5]}")
bad = [k for k in a if a[k] != b[k]]
if bad:
    sys.exit(f"FAIL: {len(bad)} of {len(a)} tensors differ in bytes, e.g. {bad[:3]} ({sys.argv[2]})")
print(f"{sys.argv[2]}: {len(a)} tensors (params + optimizer slots) byte-identical, {sum(len(v[2]) for v in a.values())} bytes")
