#!/usr/bin/env bash
# ckpt_async.sh — what a checkpoint costs the user: the wall time of a run
# with saves minus the same run without saves, per save, for synchronous and
# asynchronous saving, next to the bare shard write time the saver reports
# ("write X ms" + "fsync Y ms" of each committed checkpoint, rank 0). W=2, a gpt of ~3.3 M
# parameters (stage 1, AdamW: params + m + v, ~40 MB per checkpoint), 200
# steps, a save every 20 steps (10 saves; the last one is always synchronous).
# The runs alternate ROUNDS times, all pinned to the same cores; with
# PERNODE=1 a fourth, sync with ckpt.layout=per-node (both ranks are one
# node: rank 1 sends its partition to rank 0, which writes one file).
#   env: ROUNDS (3) CORES (0,1) STEPS (200) EVERY (20) PERNODE (1)
#        ZT (build/trainer/ztrain: another build to compare side by side)
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; CORES=${CORES:-0,1}; STEPS=${STEPS:-200}; EVERY=${EVERY:-20}; PERNODE=${PERNODE:-1}
ZT=${ZT:-build/trainer/ztrain}
[ -f data/fortunes.h5 ] || build/trainer/ztrain data prep text data/fortunes.h5 >/dev/null
source bench/coretype.sh   # same OpenBLAS kernels on both sides
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
run() {   # $1 = none|sync|async|pernode ; prints "wall_s n_saves mean_write_ms"
  local mode=$1 ck="" every=0 async=true t0 t1 lay=()
  rm -rf "$tmp/ck"
  [ "$mode" != none ] && { ck=$tmp/ck; every=$EVERY; }
  [ "$mode" = sync ] || [ "$mode" = pernode ] && async=false
  [ "$mode" = pernode ] && lay=(--set ckpt.layout=per-node)
  t0=$(date +%s.%N)
  taskset -c "$CORES" launcher/ztrain-launch -n 2 -- "$ZT" train --config configs/fortunes_gpt.ini \
    --set model.d_model=256 --set model.n_layer=4 --set model.n_head=8 --set model.ctx=64 \
    --set train.global_batch=8 --set train.micro_batch=4 --set train.steps="$STEPS" --set train.zero_stage=1 \
    --set train.threads=1 --set eval.every=0 --set eval.max_rows=16 --set log.every=50 \
    --set ckpt.dir="$ck" --set ckpt.every=$every --set ckpt.keep_last=2 --set ckpt.async=$async \
    --set log.metrics= "${lay[@]}" >"$tmp/log" 2>&1
  t1=$(date +%s.%N)
  awk -v w="$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')" '
    function ms(re, k) { return match($0, re) ? substr($0, RSTART + k, RLENGTH - k - 3) : 0 }
    /committed/ { s += ms("write [0-9.]+ ms", 6); x += ms("index [0-9.]+ ms", 6); c += ms("commit [0-9.]+ ms", 7)
                  if (match($0, "rank [0-9]+ [0-9.]+ ms")) { split(substr($0, RSTART, RLENGTH), f, " "); m += f[3] }
                  y += ms("fsync [0-9.]+ ms", 6)
                  n++ }
    END { printf "%.2f %d %.1f %.1f %.1f %.1f %.1f\n", w, n, n ? s / n : 0, n ? x / n : 0, n ? c / n : 0, n ? m / n : 0, n ? y / n : 0 }' "$tmp/log"
}
echo "# $ZT: W=2 gpt C256 L4 T64, stage 1, AdamW, $STEPS steps, save every $EVERY, cores $CORES; $(date -u +%Y-%m-%dT%H:%MZ); load $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-4s %9s %9s %9s %6s | %14s %14s %9s %9s %10s %8s %9s %10s %10s | %16s\n" run none_s sync_s async_s saves sync_ms/save async_ms/save write_ms fsync_ms slowest_ms bare_ms index_ms commit_ms sync/bare pernode_ms/save
for ((i = 1; i <= ROUNDS; i++)); do
  read -r wn _ _ _ _ _ _ < <(run none); read -r ws ns wr wx wc wm wf < <(run sync); read -r wa na _ _ _ _ _ < <(run async)
  wp=0 np=1; [ "$PERNODE" = 1 ] && read -r wp np _ _ _ _ _ < <(run pernode)
  awk -v i="$i" -v wn="$wn" -v ws="$ws" -v wa="$wa" -v ns="$ns" -v na="$na" -v wr="$wr" -v wx="$wx" -v wc="$wc" \
      -v wm="$wm" -v wf="$wf" -v wp="$wp" -v np="$np" 'BEGIN {
    s = 1e3 * (ws - wn) / ns; b = wr + wf
    printf "%-4s %9.2f %9.2f %9.2f %6d | %14.1f %14.1f %9.1f %9.1f %10.1f %8.1f %9.1f %10.1f %10.2f | %16s\n", i, wn, ws, wa, ns,
           s, 1e3 * (wa - wn) / na, wr, wf, wm, b, wx, wc, (b > 0 ? s / b : 0),
           (wp > 0 ? sprintf("%.1f", 1e3 * (wp - wn) / np) : "-") }'
done
echo "# ms/save = (wall with saves - wall without) / saves. Sync run, rank 0, means over its saves: write_ms = the shard written into the file (page cache), fsync_ms = its fsync (background), bare_ms = write + fsync = the bare durable shard write; slowest_ms = the slowest rank's write (what training waits for); index_ms / commit_ms = index.h5 and renames+fsyncs+retention (rank 0's committer thread, background, nice 19). sync/bare = sync ms/save / bare_ms (issue 10's goal: <= 1.1)"
