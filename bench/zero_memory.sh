#!/bin/bash
# bench/zero_memory.sh [BUILD_DIR] — peak RSS per rank of gpt2-medium's shape
# (C=1024, L=24, H=16: 355 M parameters with GPT-2's 50,257-token vocabulary,
# which the default data has; another DATA brings its own vocabulary) at W ranks, ZeRO stages 0-3, STEPS steps
# each, AdamW, micro-batch 1, context CTX, next to the ZeRO formula
# (16P at stage 0; 8P + 8P/W; 4P + 12P/W; 16P/W) and the activations and
# buffers the program reports ("memory per rank" lines).
# Measured: GNU time's %M (the peak RSS of each rank process, ru_maxrss).
# A stage whose ranks would exceed MemAvailable ends at the memory check
# (exit 2) before allocating: its row shows the projection, "not run".
#   DATA (default data/fortunes_bpe50257.h5, made if missing: any tokens dataset)  W (4)  CTX (64)  STEPS (3)
#   STAGES ("0 1 2 3")   EXTRA: more --set options for every run
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
zt=$build/trainer/ztrain
launch=$here/../launcher/ztrain-launch
# default data: the fortunes corpus through a 50,257-piece SentencePiece BPE
# (GPT-2's vocabulary size), made here once (~1 min), so P is gpt2-medium's
# 354,823,168 with the tied head
DATA=${DATA:-$here/../data/fortunes_bpe50257.h5}
if [ ! -f "$DATA" ] && [ "$(basename "$DATA")" = fortunes_bpe50257.h5 ] && [ -x "$zt" ]; then
  "$zt" data prep text --tokenizer bpe --vocab 50257 "$DATA" >/dev/null || { echo "zero_memory.sh: cannot make $DATA" >&2; exit 2; }
fi
W=${W:-4} CTX=${CTX:-64} STEPS=${STEPS:-3} STAGES=${STAGES:-"0 1 2 3"}
[ -x "$zt" ] || { echo "zero_memory.sh: $zt not built" >&2; exit 2; }
[ -f "$DATA" ] || { echo "zero_memory.sh: no dataset $DATA (ztrain data prep text $DATA)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || { echo "zero_memory.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/zt-zero-memory.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMPI_MCA_btl_vader_backing_directory=$tmp
unset SLURM_JOB_ID SLURM_JOBID

echo "# machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "# gpt C=1024 L=24 H=16 T=$CTX, W=$W, micro-batch 1, $STEPS steps, adamw; data $DATA"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); MemAvailable $(awk '/MemAvailable/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
for s in $STAGES; do
  rc=0
  /usr/bin/time -f "%e" -o "$tmp/wall$s" "$launch" -n "$W" -- /usr/bin/time -f "%M" -a -o "$tmp/rss$s" "$zt" train \
    --set model.name=gpt --set model.d_model=1024 --set model.n_layer=24 --set model.n_head=16 \
    --set model.ctx="$CTX" --set data.path="$DATA" --set train.global_batch="$W" --set train.micro_batch=1 \
    --set train.steps="$STEPS" --set train.zero_stage="$s" --set eval.max_rows="$W" --set log.every=1 \
    --set optim.name=adamw --set log.metrics="$tmp/m$s.jsonl" ${EXTRA:-} >"$tmp/log$s" 2>&1 || rc=$?
  echo "## stage $s: exit $rc, wall $(tail -1 "$tmp/wall$s" 2>/dev/null || echo ?) s"
  grep -E "memory (check|per rank)|^.*:   (params|grads|optim|buffers|ckpt|plan|acts) |memory: |step +[0-9]+/|done after" "$tmp/log$s" \
    | sed 's/^.*ztrain: rank [0-9]*: /  /' || true
  [ -f "$tmp/rss$s" ] && echo "  peak RSS per rank (KiB): $(grep -E '^[0-9]+$' "$tmp/rss$s" | tr '\n' ' ')"
done
/usr/bin/python3 - "$tmp" "$W" "$STAGES" <<'PY'
import json, os, re, sys
tmp, W, stages = sys.argv[1], int(sys.argv[2]), [int(s) for s in sys.argv[3].split()]
GiB = 2 ** 30
print()
print(f"| stage | formula (states) per rank | + transient, plan, acts (reported) | measured peak RSS per rank (max) | measured / (formula + reported) | run |")
print("|---|---|---|---|---|---|")
for s in stages:
    log = open(os.path.join(tmp, f"log{s}")).read()
    ev = None
    mfile = os.path.join(tmp, f"m{s}.jsonl")
    if os.path.exists(mfile):
        for l in open(mfile):
            d = json.loads(l)
            if d.get("event") == "memory": ev = d
    if ev:
        P = ev["params"]
        formula = ev["formula_params"] + ev["formula_grads"] + ev["formula_optim"]
        rep = ev["transient_bytes"] + ev["plan_bytes"] + ev["ckpt_bytes"] + ev.get("activation_bytes", 0)
        rss = [int(x) * 1024 for x in open(os.path.join(tmp, f"rss{s}")).read().split() if x.isdigit()]
        print(f"| {s} | {formula / GiB:.2f} GiB | {rep / GiB:.2f} GiB | {max(rss) / GiB:.2f} GiB | "
              f"{max(rss) / (formula + rep):.3f} | ran |")
    else:
        m = re.search(r"train.zero_stage = %d .*? needs (\d+) B .*?model states (\d+) B" % s, log)
        if m:
            print(f"| {s} | {int(m.group(2)) / GiB:.2f} GiB | {(int(m.group(1)) - int(m.group(2))) / GiB:.2f} GiB (projected) | "
                  f"— | — | not run: memory check, exit 2 (projected) |")
        else:
            print(f"| {s} | ? | ? | ? | ? | failed: see the log above |")
PY
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
