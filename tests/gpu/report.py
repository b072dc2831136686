#!/usr/bin/env python3
"""report.py — helpers of tests/gpu/run.sh (python3 + numpy, both on the GPU image).

  report.py table RUNS_DIR PEAK_BF16 PEAK_FP32
      Markdown table of every RUNS_DIR/<run>/ that holds a `meta` file
      (key=value lines written by run.sh) and the run's metrics.jsonl:
      result, loss first -> last logged, step ms, tokens/s (samples/s for mlp),
      achieved TFLOP/s and MFU. Peaks in TFLOP/s (dense); 0 = unknown.
      FLOPs per row are the model's own formula (model_mlp.c / model_gpt.c),
      with the GPT vocabulary recovered from the parameter count the trainer
      logs ("event": "memory").
  report.py cmp REF GOT TOL [--exact]
      Compare two raw float32 parameter dumps (ztrain --dump-params):
      norm-wise relative error; exit 0 pass, 1 fail.
"""
import json
import os
import sys


def read_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def read_metrics(path):
    rows, mem, summary = [], None, None
    if not os.path.exists(path):
        return rows, mem, summary
    with open(path) as f:
        for line in f:
            try:
                o = json.loads(line)
            except ValueError:
                continue
            if o.get("event") == "memory":
                mem = o
            elif o.get("summary"):
                summary = o
            elif "step_ms" in o:
                rows.append(o)
    return rows, mem, summary


def flops_per_row(meta, mem):
    if meta.get("model") == "mlp":
        dims = [784] + [int(h) for h in meta.get("hidden", "256,128").split(",")] + [10]
        return 6.0 * sum(a * b for a, b in zip(dims, dims[1:]))
    if meta.get("model") == "gpt" and mem:
        T, C, L = int(meta["ctx"]), int(meta["d_model"]), int(meta["n_layer"])
        P = int(mem["params"])
        V = (P - T * C - L * (12 * C * C + 13 * C) - 2 * C) // (2 * C)
        n_mat = L * 12 * C * C + V * C
        return 6.0 * n_mat * T + 12.0 * L * T * T * C
    return None


def table(runs_dir, peak_bf16, peak_fp32):
    print("| run | device | precision | stage | result | loss first -> last | step ms "
          "| tokens/s | TFLOP/s | MFU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in sorted(os.listdir(runs_dir)):
        d = os.path.join(runs_dir, name)
        if not os.path.exists(os.path.join(d, "meta")):
            continue
        meta = read_meta(os.path.join(d, "meta"))
        if meta.get("table", "1") != "1":
            continue
        rows, mem, _ = read_metrics(os.path.join(d, "metrics.jsonl"))
        res = meta.get("result", "?")
        loss = step_ms = tps = tfl = mfu = "-"
        if rows:
            loss = "%.3f -> %.3f" % (rows[0]["loss"], rows[-1]["loss"])
            last = rows[-1]
            step_ms = "%.2f" % last["step_ms"]
            tps = "%.0f" % last.get("tokens_per_s", last.get("samples_per_s", 0))
            fpr = flops_per_row(meta, mem)
            if fpr:
                tf = fpr * last["samples_per_s"] / 1e12
                tfl = "%.3f" % tf
                peak = peak_bf16 if meta.get("precision") == "bf16" else peak_fp32
                if meta.get("device") == "cuda" and peak > 0:
                    mfu = "%.2f%%" % (100.0 * tf / peak)
        print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            name, meta.get("device", "?"), meta.get("precision", "?"), meta.get("stage", "?"),
            res, loss, step_ms, tps, tfl, mfu))


def cmp(ref, got, tol, exact):
    import numpy as np
    a = np.fromfile(ref, dtype=np.float32)
    b = np.fromfile(got, dtype=np.float32)
    if a.shape != b.shape or a.size == 0:
        print("%s: %d params, reference %s has %d" % (got, b.size, ref, a.size))
        return 1
    if not np.all(np.isfinite(b)):
        print("%s: non-finite values" % got)
        return 1
    same = a.tobytes() == b.tobytes()
    rel = float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(a.astype(np.float64)), 1e-30))
    print("rel err %.3e (tol %g%s), bit-identical %s" % (rel, tol, ", exact required" if exact else "", same))
    if exact:
        return 0 if same else 1
    return 0 if rel <= tol else 1


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "table":
        table(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
    elif len(sys.argv) >= 5 and sys.argv[1] == "cmp":
        sys.exit(cmp(sys.argv[2], sys.argv[3], float(sys.argv[4]), "--exact" in sys.argv))
    else:
        sys.exit(__doc__)
