#!/usr/bin/env bash
# lm_bpc.sh — validation bits per character of the subword (BPE) GPT next to
# the character GPT, on the same validation text (the last 10% of the
# fortunes corpus bytes; both preps cut at the same byte).
#   bits/char = nats/token x tokens / characters / ln 2
# tokens and characters of the validation split come from the dataset's
# n_val and n_val_bytes; the eval covers every row of the split (the last
# < ctx tokens of the split are not predicted by either model).
# Usage: bench/lm_bpc.sh [W]   (from the source root, after a build; ~15 min on 2 free cores)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-2}
ZT=build/trainer/ztrain
[ -f data/fortunes_bpe.h5 ] || $ZT data prep text --tokenizer bpe --vocab 2048 data/fortunes_bpe.h5
[ -f data/fortunes.h5 ] || $ZT data prep text data/fortunes.h5
rm -rf runs/bpc_bpe runs/bpc_char
launcher/ztrain-launch -n "$W" -- $ZT train -c configs/fortunes_bpe_gpt.ini --set eval.max_rows=0 \
    --set log.metrics=runs/bpc_bpe/metrics.jsonl --set ckpt.dir=runs/bpc_bpe/ckpt
launcher/ztrain-launch -n "$W" -- $ZT train -c configs/fortunes_gpt.ini --set eval.max_rows=0 \
    --set log.metrics=runs/bpc_char/metrics.jsonl --set ckpt.dir=runs/bpc_char/ckpt
/usr/bin/python3 - <<'PY'
import json, math, h5py
def row(tag, data, metrics):
    m = [json.loads(l) for l in open(metrics)]
    s = [x for x in m if x.get("summary")][0]
    a = h5py.File(data, "r").attrs
    tok, ch = int(a["n_val"]), int(a["n_val_bytes"])
    bpc = s["eval_loss"] * tok / ch / math.log(2)
    print(f"| {tag} | {int(a['vocab_size'])} | {s['eval_loss']:.4f} | {tok} | {ch} | {bpc:.4f} | {s['steps_run']} | {s['wall_s']:.0f} |")
print("| model | vocab | val nats/token | val tokens | val chars | val bits/char | steps | wall s |")
print("|---|---|---|---|---|---|---|---|")
row("fortunes_bpe_gpt (BPE)", "data/fortunes_bpe.h5", "runs/bpc_bpe/metrics.jsonl")
row("fortunes_gpt (char)", "data/fortunes.h5", "runs/bpc_char/metrics.jsonl")
PY
