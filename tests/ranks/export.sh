#!/usr/bin/env bash
# export.sh — safetensors out and in, against an independent reader.
#  1. A tiny GPT trains 3 steps at W=2 ZeRO-3 and checkpoints; `ckpt export
#     --format safetensors` writes it in GPT2LMHeadModel's layout; a GPT-2
#     written in tests/ranks/export_torch.py (float64, HF names, Conv1D
#     layout) matches ztrain's validation loss (relative 1e-4) and the
#     next-token log-probabilities of one prompt from `ckpt logprobs`
#     (absolute 1e-3). The default export (hdf5) still works.
#  2. ckpt.init_from = the export, at W=1 stage 0: the weights arrive (the
#     first step runs at lr 1e-30, which moves no weight of this size: the
#     dumped parameters equal the checkpoint's to 1e-20) and the step-1
#     validation loss equals the exported model's; the run starts at step 0
#     with a fresh optimizer (no "resumed" line). The same from the ztrain
#     checkpoint itself.
#  3. A tied export (no lm_head.weight) into today's model with a separate
#     head: head.w = wte; exported again it is tied, and the reader's tied
#     path agrees with ztrain.
#  4. A safetensors file that cannot fit (vocabulary 100 rows, wpe 8 rows,
#     a missing tensor, an extra one): exit 2 on W=2, every difference named.
. "$(dirname "$0")/lib.sh"
X="$PY $SRC/tests/ranks/export_torch.py"
common=(--config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$DATA/fortunes.h5" --set eval.max_rows=16)
summary() { "$PY" -c "import json,sys; print([json.loads(l) for l in open(sys.argv[1]) if 'summary' in l][-1]['eval_loss'])" "$1"; }
PROMPT=5,6,7,8,9,10,11

# 1. train, export, compare with torch
run_w 2 train "${common[@]}" --set train.zero_stage=3 --set ckpt.dir="$T/ck" --set log.metrics="$T/m1.jsonl" \
    >"$T/train.log" 2>&1 || { cat "$T/train.log"; fail "training run"; }
"$ZT" ckpt export "$T/ck" "$T/hf" --format safetensors || fail "export"
for f in model.safetensors config.json; do [ -s "$T/hf/$f" ] || fail "export wrote no $f"; done
"$ZT" ckpt logprobs "$T/ck" --tokens $PROMPT >"$T/lp1" || fail "logprobs"
$X check "$T/hf" "$DATA/fortunes.h5" 16 "$(summary "$T/m1.jsonl")" "$T/lp1" $PROMPT || fail "torch disagrees with ztrain"
"$ZT" ckpt export "$T/ck" "$T/ck.h5" >/dev/null || fail "default (hdf5) export"
"$ZT" ckpt export "$T/ck" "$T/ck2.h5" --format hdf5 >/dev/null || fail "--format hdf5 export"
expect_exit 2 "$ZT" ckpt export "$T/ck" "$T/x" --format onnx
grep -q "want safetensors or hdf5" "$T/err" || fail "bad --format not named"

# 2. init_from the export and from the checkpoint: the same model at step 0
want=$(summary "$T/m1.jsonl")
for src in "$T/hf" "$T/ck"; do
  run_w 1 train "${common[@]}" --set ckpt.init_from="$src" --set optim.lr=1e-30 --set train.steps=1 \
      --set log.metrics="$T/m2.jsonl" --dump-params "$T/p2.bin" >"$T/init.log" 2>&1 || { cat "$T/init.log"; fail "init_from $src"; }
  grep -q "ckpt.init_from: .* fresh optimizer, step 0" "$T/init.log" || fail "init_from did not say what it loaded"
  grep -q "resumed" "$T/init.log" && fail "init_from resumed instead of starting fresh"
  got=$(summary "$T/m2.jsonl")
  "$PY" - "$want" "$got" "$T/p2.bin" "$T/ck.h5" <<'PY' || fail "init_from $src: not the exported model"
import sys, h5py, numpy as np
want, got = float(sys.argv[1]), float(sys.argv[2])
assert abs(got - want) <= 1e-6 * abs(want), f"step-0 eval loss {got} != exported model's {want}"
p = np.fromfile(sys.argv[3], dtype=np.float32)
f = h5py.File(sys.argv[4], "r")["param"]
L = len([k for k in f if k.endswith(".ln1.g")])
sfx = "ln1.g ln1.b attn.qkv.w attn.qkv.b attn.proj.w attn.proj.b ln2.g ln2.b mlp.fc.w mlp.fc.b mlp.proj.w mlp.proj.b".split()
names = ["wte", "wpe"] + [f"h{l}.{x}" for l in range(L) for x in sfx] + ["lnf.g", "lnf.b"] + (["head.w"] if "head.w" in f else [])
assert sorted(names) == sorted(f.keys()), sorted(set(f.keys()) ^ set(names))
ref = np.concatenate([f[k][:].ravel() for k in names])   # the flat order (model.h)
assert p.size == ref.size, (p.size, ref.size)
d = float(np.abs(p - ref).max())
print(f"step-0 eval loss {got} vs exported {want}; max |param - checkpoint| = {d:.1e}")
assert d <= 1e-20
PY
done

# 3. a tied export into a model with a separate head
$X tie "$T/hf" "$T/tied"
run_w 1 train "${common[@]}" --set ckpt.init_from="$T/tied" --set optim.lr=1e-30 --set train.steps=1 \
    --set ckpt.dir="$T/ck3" --set log.metrics="$T/m3.jsonl" >"$T/tie.log" 2>&1 || { cat "$T/tie.log"; fail "init_from tied"; }
"$ZT" ckpt export "$T/ck3" "$T/hf3" --format safetensors >"$T/exp3" || fail "export of the tied model"
grep -q "head tied to wte" "$T/exp3" || { cat "$T/exp3"; fail "head.w = wte not exported tied"; }
"$ZT" ckpt logprobs "$T/ck3" --tokens $PROMPT >"$T/lp3" || fail "logprobs 3"
$X check "$T/hf3" "$DATA/fortunes.h5" 16 "$(summary "$T/m3.jsonl")" "$T/lp3" $PROMPT || fail "tied: torch disagrees"

# 4. a source that does not fit: every difference, exit 2 on every rank
$X mangle "$T/hf" "$T/bad" >"$T/names"
expect_exit 2 run_w 2 train "${common[@]}" --set ckpt.init_from="$T/bad"
while read -r n; do grep -q -- "$n" "$T/err" || { cat "$T/err"; fail "mismatch report does not name $n"; }; done <"$T/names"
grep -q "does not fit the model: 4 differences" "$T/err" || { cat "$T/err"; fail "want exactly 4 differences"; }
expect_exit 2 run_w 1 train "${common[@]}" --set ckpt.init_from="$T/nothing-here"
grep -q "nothing-here" "$T/err" || fail "a missing init_from path is not named"
echo "export: ok"
