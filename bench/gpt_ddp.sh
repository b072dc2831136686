#!/bin/bash
# gpt_ddp.sh — issue 12's throughput goal as the user runs it: `ztrain train`
# on a GPT of gpt2's shape (C=768, L=12, H=12) at T=256, micro-batch 2, at
# W=1 (one core) and at W=2 under DDP and ZeRO-3 (two cores, one rank and
# one BLAS thread each), as a share of one core's sgemm rate measured in the
# same run (2048² through the same OpenBLAS, before and after; the higher
# counts). Goals: >= 92 % at W=1, >= 88 % per rank at W=2.
#
# tokens/s is the trainer's own `tokens_per_s` of the last log interval: the
# wall time of LOG whole steps (loader, forward, backward, communication,
# optimizer), after STEPS-LOG steps of warm-up. FLOPs per token: 6 per
# matmul weight (L·12C² + V·C) plus attention's QKᵀ and PV, 12·L·T·C for the
# full T×T scores or half that for the causal triangle; both are printed.
# Data: data/fortunes.h5 (char, V=114; V changes only the head's share).
# A "pair" row runs one independent W=1 job per core at the same time: the
# per-rank rate the machine gives when every core trains, with nothing to
# communicate; the W=2 rows are also reported against it.
#   env: STEPS (8) LOG (4) CORES (0,1) ROUNDS (1) ZT (build/trainer/ztrain)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-8}; LOG=${LOG:-4}; CORES=${CORES:-0,1}; ROUNDS=${ROUNDS:-1}
ZT=${ZT:-build/trainer/ztrain}
BENCH=${BENCH:-build/bench/model_bench}
first_core=${CORES%%,*}
[ -f data/fortunes.h5 ] || "$ZT" data prep text data/fortunes.h5 >/dev/null
source bench/coretype.sh   # same OpenBLAS kernels on both sides
unset SLURM_JOB_ID SLURM_JOBID
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
T=256 C=768 L=12 H=12 MB=2
V=$(/usr/bin/python3 -c "import h5py; print(int(h5py.File('data/fortunes.h5').attrs['vocab_size']))")   # the model's vocabulary

sgemm() { taskset -c "${1:-$first_core}" "$BENCH" sgemm --n 2048 --threads 1 --steps 10 | sed -n 's/.*gflops_best[=: ]*\([0-9.]*\).*/\1/p'; }
# one sgemm per core of CORES at the same time: what each core gets when all
# are busy (cores that share a physical core, or memory bandwidth, get less)
sgemm_all() {
  local c out=""
  for c in ${CORES//,/ }; do sgemm "$c" >"$tmp/sg.$c" & done; wait
  for c in ${CORES//,/ }; do out="$out $(cat "$tmp/sg.$c")"; done
  echo $out | tr ' ' '\n' | sort -g | head -1
}
job() {   # W stage cores tag: one training job; its metrics in $tmp/m.tag.jsonl
  local w=$1 s=$2 cores=$3 tag=$4
  rm -f "$tmp/m.$tag.jsonl"
  taskset -c "$cores" launcher/ztrain-launch -n "$w" -- "$ZT" train --config configs/gpt2.ini \
    --set data.path=data/fortunes.h5 --set model.ctx=$T --set train.micro_batch=$MB \
    --set train.global_batch=$((MB * w)) --set train.zero_stage="$s" --set train.threads=1 \
    --set train.steps="$STEPS" --set log.every="$LOG" --set eval.every=0 --set eval.max_rows=$MB --set ckpt.dir= \
    --set log.metrics="$tmp/m.$tag.jsonl" >"$tmp/log.$tag" 2>&1 \
    || { tail -20 "$tmp/log.$tag" >&2; echo "gpt_ddp.sh: W=$w stage $s failed" >&2; exit 1; }
}
rate() {   # tag -> "tokens/s ms/step comm_ms" of the last logged interval
  /usr/bin/python3 -c "
import json, sys
r = [json.loads(l) for l in open('$tmp/m.$1.jsonl') if '\"tokens_per_s\"' in l][-1]
print(f\"{r['tokens_per_s']:.2f} {r['step_ms']:.1f} {r['comm_ms']:.1f}\")"
}
run() {   # W stage -> tokens/s of the last logged interval (all ranks together)
  local w=$1 s=$2 cores=$first_core
  if [ "$s" = pair ]; then   # W independent W=1 jobs at once, one per core: the ranks' work without communication
    local c k=0 tags=()
    for c in ${CORES//,/ }; do job 1 0 "$c" "p$k" & tags+=("p$k"); k=$((k + 1)); done
    wait
    local t sum=0 ms=0
    for t in "${tags[@]}"; do read -r a b _ < <(rate "$t"); sum=$(awk -v x="$sum" -v y="$a" 'BEGIN{print x+y}'); ms=$(awk -v x="$ms" -v y="$b" 'BEGIN{print x+y}'); done
    awk -v s="$sum" -v m="$ms" -v n=${#tags[@]} 'BEGIN{printf "%.2f %.1f 0.0\n", s, m / n}'
    return
  fi
  [ "$w" -gt 1 ] && cores=$CORES
  job "$w" "$s" "$cores" one
  rate one
}

echo "# gpt_ddp: $(date -u +%Y-%m-%dT%H:%MZ); $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-}"
echo "# GPT V=$V T=$T C=$C L=$L H=$H, micro-batch $MB per rank, $STEPS steps (rate of the last $LOG), 1 BLAS thread/rank, cores $CORES"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
s1=$(sgemm)
rows=()
for ((i = 1; i <= ROUNDS; i++)); do
  for cfg in "1 0" "2 pair" "2 0" "2 3"; do
    set -- $cfg
    read -r tps ms comm < <(run "$1" "$2")
    rows+=("$1 $2 $tps $ms $comm")
  done
done
s2=$(sgemm)
sa=$(sgemm_all)
echo "# sgemm 2048² on one core: $s1 GFLOP/s before, $s2 after (the higher is the reference)"
echo "# sgemm 2048² on every core of $CORES at once: $sa GFLOP/s on the slowest (the W=2 rows' second reference)"
printf '%s\n' "${rows[@]}" | awk -v V=$V -v T=$T -v C=$C -v L=$L -v s1="$s1" -v s2="$s2" -v sa="$sa" 'BEGIN {
    mat = 6 * (L * 12 * C * C + V * C); full = 12 * L * T * C; half = full / 2
    sg = (s1 > s2) ? s1 : s2
    print "| W | stage | tokens/s (all ranks) | per rank | ms/step | comm ms | GFLOP/s per rank (full / causal attention) | % of one-core sgemm (full / causal) | % of all-cores-busy sgemm (full) | % of the pair rate per rank |"
    print "|---|---|---|---|---|---|---|---|---|---|"
  }
  { w = $1; s = $2; tps = $3; pr = tps / w
    if (s == "pair") pair = pr
    gf = pr * (mat + full) / 1e9; gh = pr * (mat + half) / 1e9
    printf "| %d | %s | %.1f | %.1f | %.1f | %.1f | %.1f / %.1f | **%.1f%%** / %.1f%% | %s | %s |\n",
           w, (s == "pair" ? "2 × W=1 jobs at once" : s == 0 ? (w == 1 ? "-" : "DDP") : "ZeRO-" s), tps, pr, $4, $5, gf, gh,
           100 * gf / sg, 100 * gh / sg, (w > 1 ? sprintf("%.1f%%", 100 * gf / sa) : "–"),
           (w > 1 && s != "pair" && pair > 0 ? sprintf("**%.1f%%**", 100 * pr / pair) : "–") }'
echo "# the pair row: one independent W=1 job per core of $CORES at the same time (no communication): what each core"
echo "# trains when every core trains; the W=2 rows' last column is their per-rank rate against it (the cost of DDP/ZeRO)"
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
