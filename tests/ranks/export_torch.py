"""export_torch.py — an independent reader of `ztrain ckpt export --format
safetensors`: parses model.safetensors by hand (8-byte little-endian header
length, JSON header, raw little-endian data), builds a GPT-2 written here to
Hugging Face's GPT2LMHeadModel layout (Conv1D weights [in, out], pre-LN,
GELU tanh form, learned positions, head tied to wte unless the file carries
lm_head.weight), in float64, and compares with ztrain:

  check HF_DIR DATA.h5 ROWS EVAL_LOSS LOGPROBS_FILE PROMPT
      validation loss over the first ROWS rows of the val split (ztrain's
      rows: x = tokens[r*T : r*T+T], y shifted by one) against EVAL_LOSS
      (relative 1e-4), and the next-token log-probabilities after PROMPT
      (comma-separated ids) against LOGPROBS_FILE ('id value' lines, from
      `ztrain ckpt logprobs`), absolute 1e-3.
  mangle HF_DIR OUT_DIR
      a copy whose tensors cannot fit the model: wte with 100 rows, wpe with
      8, h.1.mlp.c_fc.bias missing, an extra tensor; prints the names the
      mismatch report must mention, one a line.
  tie HF_DIR OUT_DIR
      a copy with lm_head.weight replaced by a copy of wte (for init_from of
      a tied export into today's untied model)."""
import json, math, os, struct, sys
import numpy as np
if sys.argv[1:2] == ["check"]:   # torch only where needed: the other commands stay quick
    import torch

def read_st(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    hdr = json.loads(raw[8:8 + n])
    meta = hdr.pop("__metadata__", {})
    out = {}
    for k, v in hdr.items():
        assert v["dtype"] == "F32", (k, v["dtype"])
        a, b = v["data_offsets"]
        arr = np.frombuffer(raw[8 + n + a:8 + n + b], dtype="<f4").reshape(v["shape"])
        out[k] = arr.astype(np.float64)
    return out, meta

def write_st(path, tensors):
    hdr, blobs, at = {}, [], 0
    for k, t in tensors.items():
        b = np.ascontiguousarray(t.astype("<f4")).tobytes()
        hdr[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [at, at + len(b)]}
        blobs.append(b); at += len(b)
    js = json.dumps(hdr).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js))); f.write(js)
        for b in blobs: f.write(b)

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))

class GPT2:
    """GPT2LMHeadModel's forward, from its state dict names."""
    def __init__(self, sd, cfg):
        self.sd, self.cfg = sd, cfg
        self.L, self.H, self.eps = cfg["n_layer"], cfg["n_head"], cfg["layer_norm_epsilon"]
        tied = "lm_head.weight" not in sd
        assert tied == cfg["tie_word_embeddings"], "config.json's tie_word_embeddings disagrees with the tensors"
        self.head = sd["transformer.wte.weight"] if tied else sd["lm_head.weight"]

    def ln(self, x, p):
        return torch.nn.functional.layer_norm(x, x.shape[-1:], self.sd[p + ".weight"], self.sd[p + ".bias"], self.eps)

    def conv1d(self, x, p):   # HF Conv1D: y = x @ W + b, W [in, out]
        return x @ self.sd[p + ".weight"] + self.sd[p + ".bias"]

    def logits(self, idx):
        B, T = idx.shape
        sd = self.sd
        x = sd["transformer.wte.weight"][idx] + sd["transformer.wpe.weight"][:T]
        C = x.shape[-1]; hd = C // self.H
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        for i in range(self.L):
            p = f"transformer.h.{i}"
            q, k, v = self.conv1d(self.ln(x, p + ".ln_1"), p + ".attn.c_attn").split(C, dim=2)
            q, k, v = (t.view(B, T, self.H, hd).transpose(1, 2) for t in (q, k, v))
            att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            y = (att @ v).transpose(1, 2).reshape(B, T, C)
            x = x + self.conv1d(y, p + ".attn.c_proj")
            h = gelu_new(self.conv1d(self.ln(x, p + ".ln_2"), p + ".mlp.c_fc"))
            x = x + self.conv1d(h, p + ".mlp.c_proj")
        return self.ln(x, "transformer.ln_f") @ self.head.T

def check(hf, data, rows, eval_loss, lp_file, prompt):
    import h5py
    sd, meta = read_st(os.path.join(hf, "model.safetensors"))
    sd = {k: torch.from_numpy(v) for k, v in sd.items()}
    cfg = json.load(open(os.path.join(hf, "config.json")))
    assert cfg["architectures"] == ["GPT2LMHeadModel"] and cfg["activation_function"] == "gelu_new", cfg
    V, T, C = cfg["vocab_size"], cfg["n_positions"], cfg["n_embd"]
    assert tuple(sd["transformer.wte.weight"].shape) == (V, C) and tuple(sd["transformer.wpe.weight"].shape) == (T, C)
    assert tuple(sd["transformer.h.0.attn.c_attn.weight"].shape) == (C, 3 * C)
    assert tuple(sd["transformer.h.0.mlp.c_fc.weight"].shape) == (C, 4 * C)
    assert tuple(sd["transformer.h.0.mlp.c_proj.weight"].shape) == (4 * C, C)
    m = GPT2(sd, cfg)
    tok = np.asarray(h5py.File(data, "r")["val/tokens"][:], dtype=np.int64)
    n = min(rows, (len(tok) - 1) // T)
    x = torch.tensor(np.stack([tok[r * T:r * T + T] for r in range(n)]))
    y = torch.tensor(np.stack([tok[r * T + 1:r * T + T + 1] for r in range(n)]))
    loss = torch.nn.functional.cross_entropy(m.logits(x).reshape(-1, V), y.reshape(-1)).item()
    rel = abs(loss - eval_loss) / abs(eval_loss)
    print(f"val loss over {n} rows: torch {loss:.9f}  ztrain {eval_loss:.9f}  rel {rel:.2e}")
    assert rel <= 1e-4, "validation loss differs"
    ids = [int(t) for t in prompt.split(",")]
    lp = torch.log_softmax(m.logits(torch.tensor([ids]))[0, -1], -1)
    got = np.zeros(V)
    for line in open(lp_file):
        i, v = line.split(); got[int(i)] = float(v)
    err = np.abs(got - lp.numpy()).max()
    print(f"next-token log-probabilities after {ids}: max abs difference {err:.2e} over {V} ids")
    assert err <= 1e-3, "next-token log-probabilities differ"

def mangle(hf, out):
    sd, _ = read_st(os.path.join(hf, "model.safetensors"))
    sd["transformer.wte.weight"] = sd["transformer.wte.weight"][:100]
    sd["transformer.wpe.weight"] = sd["transformer.wpe.weight"][:8]
    del sd["transformer.h.1.mlp.c_fc.bias"]
    sd["transformer.h.9.extra.weight"] = np.zeros(3)
    os.makedirs(out, exist_ok=True)
    write_st(os.path.join(out, "model.safetensors"), sd)
    for name in ["vocabulary", "wpe", "h1.mlp.fc.b", "transformer.h.9.extra.weight"]:
        print(name)

def tie(hf, out):
    sd, _ = read_st(os.path.join(hf, "model.safetensors"))
    sd.pop("lm_head.weight", None)
    os.makedirs(out, exist_ok=True)
    write_st(os.path.join(out, "model.safetensors"), sd)

if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "check":
        check(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7])
    elif cmd == "mangle":
        mangle(sys.argv[2], sys.argv[3])
    elif cmd == "tie":
        tie(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown command {cmd}")
