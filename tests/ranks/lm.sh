#!/usr/bin/env bash
# lm.sh — subword language model end to end: `data prep text --tokenizer bpe`
# (uint16 tokens + the SentencePiece model), the tied GPT trained on it at
# W=1 DDP and at W=3 ZeRO-3 (same parameters: the head shares wte, which lives
# in unit 0 while the head runs in the last unit), the tokenizer carried in
# the checkpoint index, and `ztrain sample` from the W=3 ZeRO-3 checkpoint:
# same seed = same text, KV cache = full forward, and the bad inputs
# (not a GPT checkpoint, prompt longer than the context, no checkpoint).
. "$(dirname "$0")/lib.sh"
F=/usr/share/games/fortunes
[ -f "$F/linux" ] && [ -f "$F/wisdom" ] || fail "the Debian fortunes corpus is missing ($F)"
"$ZT" data prep text --tokenizer bpe --vocab 400 "$T/bpe.h5" "$F/linux" "$F/wisdom" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "data prep text --tokenizer bpe"; }
"$PY" - "$T/bpe.h5" <<'PY' || fail "bpe dataset layout"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
a = f.attrs
assert a["kind"] == b"tokens" and a["tokenizer"] == b"sentencepiece", dict(a)
assert int(a["vocab_size"]) == 400
for s in ("train", "val"):
    t = f[s + "/tokens"]
    assert t.dtype == "uint16" and t.ndim == 1 and t[:].max() < 400, (s, t.dtype, t.shape)
assert f["tokenizer/model"].dtype == "uint8" and f["tokenizer/model"].shape[0] > 1000
PY
common=(--config "$SRC/tests/ranks/tiny_gpt.ini" --set data.path="$T/bpe.h5" --set train.steps=12)
run_w 1 train "${common[@]}" --set train.zero_stage=0 --dump-params "$T/w1.bin" >"$T/log" 2>&1 \
    || { cat "$T/log"; fail "W=1 run"; }
run_w 3 train "${common[@]}" --set train.zero_stage=3 --set ckpt.dir="$T/ck3" --dump-params "$T/w3.bin" \
    >"$T/log" 2>&1 || { cat "$T/log"; fail "W=3 ZeRO-3 run"; }
line=$(cmp_params "$T/w1.bin" "$T/w3.bin" 2e-6) || { echo "$line"; fail "tied GPT: W=3 ZeRO-3 differs from W=1"; }
echo "tied GPT on BPE tokens, W=3 ZeRO-3 vs W=1: ${line#"$T/"}"
"$PY" - "$T/ck3/step-00000012/index.h5" "$T/bpe.h5" <<'PY' || fail "tokenizer in the checkpoint index"
import sys, h5py
i, d = h5py.File(sys.argv[1], "r"), h5py.File(sys.argv[2], "r")
assert bytes(i["blob/tokenizer_kind"][:]) == b"sentencepiece"
assert bytes(i["blob/tokenizer"][:]) == bytes(d["tokenizer/model"][:]), "not the dataset's model"
PY
# sampling: deterministic per seed, KV cache equal to the full forward
s1=$("$ZT" sample "$T/ck3" --prompt "The " --tokens 12 --seed 7 2>"$T/err") || { cat "$T/err"; fail "sample"; }
s2=$("$ZT" sample "$T/ck3" --prompt "The " --tokens 12 --seed 7 2>/dev/null)
s3=$("$ZT" sample "$T/ck3" --prompt "The " --tokens 12 --seed 8 --temperature 2 --top-k 0 2>/dev/null)
[ "$s1" = "$s2" ] || fail "same seed, different text: '$s1' vs '$s2'"
[ "$s1" != "$s3" ] || fail "seeds 7 and 8 (temperature 2) gave the same text '$s1'"
[[ $s1 == The* ]] || fail "the text does not start with the prompt: '$s1'"
grep -q "tokens/s" "$T/err" || { cat "$T/err"; fail "no tokens/s on stderr"; }
"$ZT" sample "$T/ck3" --prompt "The " --tokens 12 --check-cache >/dev/null 2>"$T/err" \
    || { cat "$T/err"; fail "KV-cached probabilities differ from the full forward"; }
grep -h "check-cache" "$T/err"
# bad input: a clear line and a documented exit
run_w 1 train --config "$SRC/tests/ranks/tiny_mlp.ini" --set data.path="$DATA/mnist.h5" --set train.steps=1 \
    --set ckpt.dir="$T/ckm" >"$T/log" 2>&1 || { cat "$T/log"; fail "mlp run"; }
expect_exit 2 "$ZT" sample "$T/ckm"
grep -q "sampling needs a gpt" "$T/err" || { cat "$T/err"; fail "non-GPT message"; }
long=$(head -c 400 "$F/linux")
expect_exit 2 "$ZT" sample "$T/ck3" --prompt "$long"
grep -q "longer than the model's context of 16" "$T/err" || { cat "$T/err"; fail "long prompt message"; }
expect_exit 5 "$ZT" sample "$T/nothing-here"
expect_exit 2 "$ZT" sample "$T/ck3" --top-k -1
expect_exit 2 "$ZT" data prep text --tokenizer bpe --vocab 12 "$T/x.h5" "$F/linux"
echo "PASS: bpe prep, tied GPT W-invariance (W=3 ZeRO-3), tokenizer in the index, sample determinism, KV cache, bad inputs"
