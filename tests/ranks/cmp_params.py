"""cmp_params.py A B TOL [--exact] — compare two raw float32 parameter dumps.
Relative error is norm-wise: ||a - b|| / ||a|| (elementwise relative error is
meaningless for parameters near zero). --exact requires bit-identical files."""
import sys
import numpy as np

a = np.fromfile(sys.argv[1], dtype=np.float32)
b = np.fromfile(sys.argv[2], dtype=np.float32)
tol = float(sys.argv[3])
if a.shape != b.shape:
    sys.exit(f"FAIL: {sys.argv[2]}: {b.size} params, reference has {a.size}")
if not np.all(np.isfinite(b)):
    sys.exit(f"FAIL: {sys.argv[2]}: non-finite values")
if "--exact" in sys.argv:
    same = a.tobytes() == b.tobytes()
    print(f"{sys.argv[2]}: bit-identical={same} (max |diff| {np.abs(a - b).max():.3e})")
    sys.exit(0 if same else 1)
rel = float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(a.astype(np.float64)), 1e-30))
print(f"{sys.argv[2]}: rel err {rel:.3e} (tol {tol:g}), max |diff| {np.abs(a - b).max():.3e}")
sys.exit(0 if rel <= tol else 1)
