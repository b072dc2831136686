#!/usr/bin/env bash
# tests/gpu/run.sh [--no-gpu] — the one-call GPU check. Run on a machine with
# an NVIDIA GPU (sm_90: H100/H200), from anywhere; fits one 8-minute call.
#
#   1. device   nvidia-smi, nvcc, where cuBLAS/NCCL come from
#   2. build    compiles the CUDA op tables (every trainer/ops/ops_cuda*.cu) with
#               this machine's nvcc (sm_90 + PTX) into a standalone
#               zt_ops_check (no project dependencies: tests/gpu/cblas_ref
#               stands in for OpenBLAS); then ztrain: cmake
#               -DCMAKE_CUDA_ARCHITECTURES=90 if the image has the Debian
#               dependencies, else the prebuilt bundle made by
#               tests/gpu/bundle.sh on the dev machine (carried in)
#   3. ops      zt_ops_check: every op of zt_ops_cuda and zt_ops_cuda_bf16
#               against the CPU table on fresh random non-zero inputs
#               (fp32 1e-4, bf16 2e-2 relative), production shapes included
#               (attention B=2 T=1024 C=768 12 heads, cross-entropy V=50257),
#               then mlp, gpt and cnn end to end
#   4. train    each model 50 steps at W=1 through NCCL, ZeRO stages 0-3, fp32,
#               plus bf16 and a larger GPT for a meaningful MFU; CPU baselines;
#               the fashion CNN (configs/fashion_cnn.ini) on mnist.h5 at
#               stages 0 and 3, fp32 and bf16
#   5. resume   mlp, gpt, cnn (BatchNorm running statistics ride in the flat
#               buffer): GPU ckpt -> CPU resume, CPU ckpt -> GPU resume (other stages),
#               GPU stop/resume bit-identical; params vs an uninterrupted run
#   6. table    step ms, tokens/s, achieved TFLOP/s, MFU (H100/H200 dense
#               peaks: bf16 989, fp32 67 TFLOP/s; ZT_PEAK_BF16/ZT_PEAK_FP32)
#
# --no-gpu: every step that needs no GPU, on the dev machine or in CI
# (scripts/check-gpu-build.sh runs it): builds the standalone check (so a
# missing CUDA source in its link fails here, not on the device), builds
# ztrain + zt_ops_check with CMake (ZT_GPU_BUILD=DIR: an existing build tree,
# built incrementally, instead of a fresh one under the work dir), checks that
# ztrain defines the CUDA tables and runs both zt_ops_check builds with
# `--table cpu` (the harness with the CPU table on both sides, production
# shapes included; every error must be 0). Stops before training.
#
# Everything lands under $OUT (default runs/gpu-check): run.log (all of it),
# ops_check.txt, results.md (the table + checks), runs.tar.gz (every run's log,
# metrics and checkpoint listings). Exit 0 only if every check passed.
#
# With the device tool, from this machine (the GPU image lacks PMIx, OpenMPI,
# HDF5, OpenBLAS, so build the bundle here first, ~1 min):
#   bash tests/gpu/bundle.sh                     # -> build-gpu/gpu-bundle.tar.xz
#   run(command="bash tests/gpu/run.sh", carry=["build-gpu/gpu-bundle.tar.xz"], timeout_s=540)
#
# Knobs: STEPS (50), ZT_GPU_BUDGET_S (420: later stages are skipped, loudly,
# when time runs short), ZT_GPU_BUNDLE (path of the bundle), ZT_GPU_CMAKE=0
# (do not try cmake), ZT_GPU_BUILD (an existing build tree to use),
# ZT_GPU_DRYRUN_CPU=1 (no GPU: runs every step, training included, with
# train.device=cpu and ops_check --table cpu, to test this script itself).
set -uo pipefail
NOGPU=0
for a in "$@"; do
  case $a in
    --no-gpu) NOGPU=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument '$a' (usage: run.sh [--no-gpu])" >&2; exit 2 ;;
  esac
done
cd "$(dirname "$0")/../.."
ROOT=$PWD
OUT=${OUT:-$ROOT/runs/gpu-check$([ $NOGPU = 1 ] && echo -nogpu)}
mkdir -p "$OUT"
exec > >(tee "$OUT/run.log") 2>&1
STEPS=${STEPS:-50}
BUDGET=${ZT_GPU_BUDGET_S:-420}
DRY=${ZT_GPU_DRYRUN_CPU:-0}
CUDA=${ZT_CUDA_ROOT:-/usr/local/cuda}
WORK=${ZT_GPU_WORK:-/tmp/zt-gpu-check$([ $NOGPU = 1 ] && echo -nogpu)}
NPROC=$(nproc 2>/dev/null || echo 4)
T0=$SECONDS
rm -rf "$WORK"; mkdir -p "$WORK/runs"
RUNS=$WORK/runs
FAILS=0
CHECKS=()
section() { printf '\n==== %s  (t=%ds)\n' "$*" $((SECONDS - T0)); }
left() { echo $((BUDGET - (SECONDS - T0))); }
check() {   # check NAME PASS|FAIL|SKIP DETAIL
  CHECKS+=("| $1 | $2 | $3 |")
  [ "$2" = FAIL ] && FAILS=$((FAILS + 1))
  echo "check: $1: $2 $3"
}
finish() {
  section "results"
  {
    echo "# GPU check $(date -u +%FT%TZ) on ${GPU_NAME:-?} (${GPU_INFO:-?})"
    echo
    if [ "$NOGPU" = 0 ]; then
      echo "Steps $STEPS, W=1; MFU against dense peaks bf16 ${PEAK_BF16:-0}, fp32 ${PEAK_FP32:-0} TFLOP/s."
      echo "tokens/s is samples/s for mlp. TFLOP/s counts the model's fwd+bwd FLOPs per row"
      echo "(model_mlp.c / model_gpt.c) times rows/s over the last ${LOGE:-10} steps."
      echo
      [ -n "${PY:-}" ] && "$PY" tests/gpu/report.py table "$RUNS" "${PEAK_BF16:-0}" "${PEAK_FP32:-0}"
      echo
    fi
    echo "| check | result | detail |"
    echo "|---|---|---|"
    printf '%s\n' "${CHECKS[@]}"
    echo
    echo "GPU CHECK: $([ $FAILS = 0 ] && echo PASS || echo "FAIL ($FAILS)") in $((SECONDS - T0)) s"
  } > "$OUT/results.md"
  cat "$OUT/results.md"
  # logs, metrics and the checkpoint listings (not the checkpoints: $OUT returns <= 16 MiB a file)
  for c in "$RUNS"/ck-*; do [ -d "$c" ] && ls -lR "$c" > "$c/listing.txt"; done
  tar -C "$WORK" -czf "$OUT/runs.tar.gz" --exclude='*.h5' --exclude='*.bin' runs 2>/dev/null
  [ $FAILS = 0 ]
  exit $?
}

# ---- 1. device --------------------------------------------------------------
section "device"
PY=${ZT_GPU_PYTHON:-$(command -v python3 || true)}
if [ "$NOGPU" = 1 ]; then
  DEV=cpu DRY=1 GPU_NAME="none (--no-gpu)" GPU_INFO="builds and CPU-side checks only"
elif [ "$DRY" = 1 ]; then
  DEV=cpu GPU_NAME="none (ZT_GPU_DRYRUN_CPU=1)" GPU_INFO="dry run on CPU"
else
  DEV=cuda
  if ! nvidia-smi -L; then check device FAIL "nvidia-smi sees no GPU"; finish; fi
  GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  GPU_INFO=$(nvidia-smi --query-gpu=memory.total,driver_version --format=csv,noheader | head -1)
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
fi
case "$GPU_NAME" in   # dense peaks (TFLOP/s), NVIDIA data sheets (SXM)
  *H100*PCIe*) PEAK_BF16=756 PEAK_FP32=51 ;;
  *H100*|*H200*|*GH200*) PEAK_BF16=989 PEAK_FP32=67 ;;
  *) PEAK_BF16=0 PEAK_FP32=0 ;;
esac
PEAK_BF16=${ZT_PEAK_BF16:-$PEAK_BF16} PEAK_FP32=${ZT_PEAK_FP32:-$PEAK_FP32}
"$CUDA/bin/nvcc" --version | tail -2 || echo "no nvcc under $CUDA"
echo "cores $NPROC, python ${PY:-none}, budget ${BUDGET}s"

# cuBLAS / NCCL: the CUDA toolkit's, else PyTorch's nvidia-* wheels
LIBDIRS=()
for d in "$CUDA/lib64" "$CUDA/targets/x86_64-linux/lib" /usr/lib/x86_64-linux-gnu; do [ -d "$d" ] && LIBDIRS+=("$d"); done
if [ -n "$PY" ]; then
  while read -r d; do [ -d "$d" ] && LIBDIRS+=("$d"); done < <("$PY" - <<'EOF' 2>/dev/null
import glob, os
try:
    import nvidia
    for p in nvidia.__path__:
        for d in sorted(glob.glob(os.path.join(p, "*", "lib"))): print(d)
except Exception:
    pass
EOF
)
fi
libdir_of() { for d in "${LIBDIRS[@]}"; do [ -e "$d/$1" ] && { echo "$d"; return 0; }; done; return 1; }
RTPATH=""
for l in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libnccl.so.2; do
  if d=$(libdir_of "$l"); then echo "  $l: $d"; case ":$RTPATH:" in *":$d:"*) ;; *) RTPATH=${RTPATH:+$RTPATH:}$d ;; esac
  else echo "  $l: NOT FOUND"; fi
done

# ---- 2. build ---------------------------------------------------------------
section "build: CUDA op tables + standalone zt_ops_check (this machine's nvcc, sm_90 + PTX)"
# The sources are globbed, not listed: the tables in ops_cuda.cu point at
# kernels in the other ops_cuda*.cu files (attention), and a list that missed
# one failed only at link time, on the device.
SB=$WORK/standalone; mkdir -p "$SB"
OPS_SA=""
CU_SRC=(trainer/ops/ops_cuda*.cu)
INC=(-Itrainer -Itrainer/ops -Itrainer/models -Itrainer/comm -Ilauncher)
C_SRC=(tests/gpu/ops_check.c trainer/ops/ops_cpu.c trainer/ops/ops_conv.c trainer/optim.c trainer/models/model_*.c launcher/log.c)
if [ -x "$CUDA/bin/nvcc" ]; then
  ok=1
  for f in "${CU_SRC[@]}"; do
    [ $ok = 1 ] || break
    ( set -x; "$CUDA/bin/nvcc" -std=c++17 -O2 -gencode arch=compute_90,code=sm_90 \
        -gencode arch=compute_90,code=compute_90 -Xcompiler -Wall "${INC[@]}" \
        -c "$f" -o "$SB/$(basename "$f" .cu).o" ) || ok=0
  done
  for f in "${C_SRC[@]}"; do
    [ $ok = 1 ] || break
    cc -std=gnu17 -O2 -Itests/gpu/cblas_ref "${INC[@]}" -I"$CUDA/include" -c "$f" \
       -o "$SB/$(basename "$f" .c).o" || ok=0
  done
  # the reference GEMM: vectorised (it is the CPU side of the production shapes)
  [ $ok = 1 ] && { cc -std=gnu17 -O3 -march=native -Itests/gpu/cblas_ref -c tests/gpu/cblas_ref/cblas_ref.c \
                     -o "$SB/cblas_ref.o" || ok=0; }
  LFLAGS=(); IFS=: read -ra _d <<<"$RTPATH"; for d in "${_d[@]}"; do LFLAGS+=(-L"$d" -Wl,-rpath,"$d"); done
  if [ $ok = 1 ]; then
    c++ -o "$SB/zt_ops_check" "$SB"/*.o "${LFLAGS[@]}" -l:libcublas.so.13 -l:libcudart.so.13 \
        -lm -lpthread 2> "$SB/link.err" || ok=0
    cat "$SB/link.err"
  fi
  und=$(grep -o "undefined reference to \`[^'(]*" "$SB/link.err" 2>/dev/null | cut -c25- | sort -u | tr '\n' ' ')
  if [ $ok = 1 ]; then OPS_SA=$SB/zt_ops_check; check "build: standalone zt_ops_check (nvcc here)" PASS "$(ls "${CU_SRC[@]}" | tr '\n' ' ')linked"
  elif [ -n "$und" ]; then check "build: standalone zt_ops_check (nvcc here)" FAIL "link: undefined ${und:0:200}"
  else check "build: standalone zt_ops_check (nvcc here)" FAIL "compile or link failed, see run.log"; fi
else
  check "build: standalone zt_ops_check (nvcc here)" "$([ $NOGPU = 1 ] && echo FAIL || echo SKIP)" "no nvcc under $CUDA"
fi

section "build: ztrain"
ZT="" OPS_PROJ="" DATA=""
find_ops() { find "$1/tests" -maxdepth 2 -name zt_ops_check -type f -perm -u+x 2>/dev/null | head -1; }
if [ -n "${ZT_GPU_BUILD:-}" ]; then   # an existing tree: configure only if it never was
  BD=$ZT_GPU_BUILD
  { [ -f "$BD/CMakeCache.txt" ] || cmake -S . -B "$BD" -DCMAKE_BUILD_TYPE=RelWithDebInfo; } > "$WORK/cmake.log" 2>&1
  if cmake --build "$BD" -j"$NPROC" --target ztrain zt_ops_check >> "$WORK/cmake.log" 2>&1; then
    ZT=$BD/trainer/ztrain OPS_PROJ=$(find_ops "$BD")
    check "build: cmake ($BD)" PASS "ztrain, zt_ops_check up to date"
  else
    tail -30 "$WORK/cmake.log"; check "build: cmake ($BD)" FAIL "build failed (a tree configured without the GPU path has no zt_ops_check target)"
  fi
elif [ "${ZT_GPU_CMAKE:-1}" = 1 ] && command -v cmake >/dev/null &&
   cmake -S . -B "$WORK/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 > "$WORK/cmake.log" 2>&1; then
  if cmake --build "$WORK/build" -j"$NPROC" --target ztrain zt_ops_check >> "$WORK/cmake.log" 2>&1; then
    ZT=$WORK/build/trainer/ztrain OPS_PROJ=$(find_ops "$WORK/build")
    check "build: cmake (CUDA arch 90)" PASS "built here"
  else
    tail -30 "$WORK/cmake.log"; check "build: cmake (CUDA arch 90)" FAIL "configure ok, build failed"
  fi
else
  echo "cmake configure failed or skipped (the GPU image usually lacks the Debian dependencies):"
  grep -iE "could not|not found|error" "$WORK/cmake.log" 2>/dev/null | head -5
  # the dev machine has every dependency: a failed configure there is a failure
  [ $NOGPU = 1 ] && check "build: cmake (CUDA arch 90)" FAIL "configure failed, see $WORK/cmake.log"
fi
BUNDLE=${ZT_GPU_BUNDLE:-}
[ -z "$BUNDLE" ] && [ $NOGPU = 0 ] && for b in build-gpu/gpu-bundle.tar.xz build/gpu-bundle.tar.xz; do [ -f "$b" ] && { BUNDLE=$b; break; }; done
if [ -n "$BUNDLE" ] && [ -f "$BUNDLE" ]; then
  mkdir -p "$WORK/bundle" && tar -C "$WORK/bundle" -xJf "$BUNDLE"
  B=$WORK/bundle
  echo "bundle $BUNDLE: $(cat "$B/BUILD-INFO" 2>/dev/null | head -1)"
  export LD_LIBRARY_PATH=$B/lib${RTPATH:+:$RTPATH}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  export OPAL_PREFIX=$B/ompi PMIX_MCA_mca_base_component_path=$B/pmix
  [ -z "$ZT" ] && { ZT=$B/bin/ztrain; OPS_PROJ=$B/bin/zt_ops_check; check "build: ztrain" PASS "prebuilt bundle (tests/gpu/bundle.sh)"; }
  DATA=$B/data
elif [ -z "$ZT" ]; then
  check "build: ztrain" "$([ $NOGPU = 1 ] && echo FAIL || echo SKIP)" "no cmake build and no bundle: run tests/gpu/bundle.sh on the dev machine and carry it"
fi
[ -n "$RTPATH" ] && export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$RTPATH
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
if [ -n "$ZT" ]; then
  info=$("$ZT" info --build 2>&1)
  echo "ztrain: $ZT ($info)"
fi
if [ -n "$ZT" ] && { [ "$DEV" = cuda ] || [ $NOGPU = 1 ]; }; then   # a plain dry run may use a CPU-only build
  [ "$info" = "gpu: cuda+nccl" ] || check "ztrain built with the GPU path" FAIL "info --build says '$info'"
  # nm into a variable first: `nm | grep -q` under pipefail fails when grep
  # stops reading at the first match and nm dies of SIGPIPE
  if command -v nm >/dev/null; then
    syms=$(nm "$ZT" 2>/dev/null)
    for sym in zt_ops_cuda zt_ops_cuda_bf16; do
      grep -Eq "^[0-9a-f]+ [DdRrVv] $sym\$" <<<"$syms" ||
        check "ztrain links $sym" FAIL "weak reference only: train.device=cuda has no op table"
    done
  fi
fi

# ---- 3. ops -----------------------------------------------------------------
section "ops: CUDA tables vs the CPU table$([ "$DRY" = 1 ] && echo " (no GPU: the CPU table on both sides)")"
TABLE=all; [ "$DRY" = 1 ] && TABLE=cpu
for which in standalone project; do
  p=$OPS_SA; [ $which = project ] && p=$OPS_PROJ
  if ! { [ -n "$p" ] && [ -x "$p" ]; }; then
    [ $NOGPU = 1 ] && check "ops_check ($which build)" FAIL "no binary (see the build checks)"
    continue
  fi
  echo "-- $which build: $p --table $TABLE" | tee -a "$OUT/ops_check.txt"
  timeout 180 "$p" --table "$TABLE" > "$WORK/ops.txt" 2>&1
  rc=$?
  cat "$WORK/ops.txt" | tee -a "$OUT/ops_check.txt"
  n=$(grep -c ' FAIL$' "$WORK/ops.txt")
  if [ "$rc" = 0 ]; then check "ops_check ($which build)" PASS "$(tail -1 "$WORK/ops.txt")"
  else check "ops_check ($which build)" FAIL "exit $rc, $n failing checks: $(grep ' FAIL$' "$WORK/ops.txt" | awk '{print $2}' | sort -u | tr '\n' ' ' | cut -c1-200)"; fi
done

[ -n "$ZT" ] && [ $NOGPU = 0 ] || finish

# ---- data -------------------------------------------------------------------
for d in "$DATA" "${ZT_GPU_DATA:-}" data build-gpu/testdata build/testdata; do
  [ -n "$d" ] && [ -s "$d/mnist.h5" ] && [ -s "$d/fortunes.h5" ] && { DATA=$d; break; }
done
if ! { [ -s "$DATA/mnist.h5" ] && [ -s "$DATA/fortunes.h5" ]; }; then
  DATA=$WORK/data; mkdir -p "$DATA"
  "$ZT" data prep mnist "$DATA/mnist.h5" data/raw/mnist > "$WORK/prep.log" 2>&1
  "$ZT" data prep text "$DATA/fortunes.h5" >> "$WORK/prep.log" 2>&1
fi
if ! { [ -s "$DATA/mnist.h5" ] && [ -s "$DATA/fortunes.h5" ]; }; then
  check "datasets" FAIL "no mnist.h5/fortunes.h5 (carry the bundle, or data/*.h5)"; finish
fi
echo "datasets: $DATA"

# ---- 4. train ---------------------------------------------------------------
# train NAME MODEL DEVICE PRECISION STAGE EXPECT_RC [--set ... | --stop-at N | --dump-params F]
LOGE=10
train() {
  local name=$1 model=$2 dev=$3 prec=$4 stage=$5 expect=$6; shift 6
  local d=$RUNS/$name; mkdir -p "$d"
  local cfg=configs/mnist_mlp.ini data=$DATA/mnist.h5
  [ "$model" = gpt ] && cfg=configs/fortunes_gpt.ini data=$DATA/fortunes.h5
  [ "$model" = cnn ] && cfg=configs/fashion_cnn.ini   # mnist.h5: 28x28x1 images, 10 classes
  [ "$DRY" = 1 ] && [ "$dev" = cuda ] && dev=cpu
  local be=mpi; [ "$dev" = cuda ] && be=nccl
  if [ "$(left)" -lt 20 ]; then check "run $name" SKIP "out of time budget"; echo "result=SKIP" > "$d/meta"; return 1; fi
  local args=(train --config "$cfg" --set data.path="$data" --set train.device="$dev"
              --set train.backend="$be" --set train.precision="$prec" --set train.zero_stage="$stage"
              --set train.steps="$STEPS" --set log.every=$LOGE --set eval.every=0
              --set log.metrics="$d/metrics.jsonl" --set ckpt.dir= --set ckpt.async=false "$@")
  echo "\$ ztrain ${args[*]}" > "$d/log"
  local t=$SECONDS
  timeout 120 "$ZT" "${args[@]}" >> "$d/log" 2>&1
  local rc=$?
  local res=PASS
  [ "$rc" = "$expect" ] || res=FAIL
  grep -qiE "nan|inf" <(grep '^step' "$d/log") && res=FAIL
  { echo "model=$model"; echo "device=$dev"; echo "precision=$prec"; echo "stage=$stage"
    echo "rc=$rc"; echo "result=$res"; echo "hidden=256,128"
    for k in ctx d_model n_layer; do
      v=$(printf '%s\n' "$@" | sed -n "s/^model\.$k=//p" | tail -1)
      [ -z "$v" ] && v=$(sed -n "s/^$k *= *//p" "$cfg" | head -1)
      echo "$k=$v"
    done
    echo "table=${TABLE_ROW:-1}"; } > "$d/meta"
  printf '  %-26s %s rc=%s (expect %s) %3ds  %s\n' "$name" "$res" "$rc" "$expect" $((SECONDS - t)) \
    "$(grep '^step' "$d/log" | tail -1 | cut -c1-110)"
  [ "$res" = PASS ] || { tail -5 "$d/log"; check "run $name" FAIL "exit $rc (expected $expect), see runs/$name/log"; }
  [ "$res" = PASS ]
}

section "train: $STEPS steps, W=1, ZeRO stages 0-3 ($DEV)"
MLP=(--set train.global_batch=1024 --set train.micro_batch=512)
GPT=(--set train.global_batch=64 --set train.micro_batch=32)
GPTL=(--set model.d_model=512 --set model.n_layer=4 --set model.n_head=8 --set model.ctx=256
      --set train.global_batch=32 --set train.micro_batch=32)
for s in 0 1 2 3; do train "mlp-$DEV-fp32-z$s" mlp "$DEV" fp32 $s 0 "${MLP[@]}"; done
for s in 0 1 2 3; do train "gpt-$DEV-fp32-z$s" gpt "$DEV" fp32 $s 0 "${GPT[@]}"; done
train "mlp-$DEV-bf16-z0" mlp "$DEV" bf16 0 0 "${MLP[@]}"
train "gpt-$DEV-bf16-z0" gpt "$DEV" bf16 0 0 "${GPT[@]}"
CNN=(--set train.global_batch=64 --set train.micro_batch=32)
for s in 0 3; do train "cnn-$DEV-fp32-z$s" cnn "$DEV" fp32 $s 0 "${CNN[@]}"; done
train "cnn-$DEV-bf16-z0" cnn "$DEV" bf16 0 0 "${CNN[@]}"
if [ "$DRY" != 1 ]; then   # perf-only runs: too slow for a CPU dry run
  train "gptL-$DEV-fp32-z0" gpt "$DEV" fp32 0 0 "${GPTL[@]}"
  train "gptL-$DEV-bf16-z0" gpt "$DEV" bf16 0 0 "${GPTL[@]}"
  train "gptL-$DEV-bf16-z3" gpt "$DEV" bf16 3 0 "${GPTL[@]}"
  # the same work on this machine's CPU cores, for scale
  train "base-mlp-cpu-fp32-z0" mlp cpu fp32 0 0 "${MLP[@]}"
  train "base-gpt-cpu-fp32-z0" gpt cpu fp32 0 0 "${GPT[@]}"
fi
n_ok=0; n_all=0
for d in "$RUNS"/*/meta; do n_all=$((n_all + 1)); grep -q '^result=PASS' "$d" && n_ok=$((n_ok + 1)); done
check "train $STEPS steps (all runs)" "$([ $n_ok = $n_all ] && echo PASS || echo FAIL)" "$n_ok of $n_all runs ended as expected"

# ---- 5. resume across devices -----------------------------------------------
# Small standard configs (fast on CPU). ref: uninterrupted on the GPU.
# g2g: GPU stop at 25 + GPU resume, same stage: bit-identical to ref.
# g2c: GPU stage 2 stop at 25 -> CPU stage 0 resume.  c2g: CPU stage 3 stop at
# 25 -> GPU stage 1 resume. Both: ref within 1e-3 (different summation orders
# and a reshard; a checkpoint read as garbage or zeros gives O(1)).
section "resume: GPU <-> CPU checkpoints"
HALF=$((STEPS / 2))
cmpp() { [ -n "$PY" ] || { echo "no python3 to compare"; return 1; }; "$PY" tests/gpu/report.py cmp "$@"; }
TABLE_ROW=0
for m in mlp gpt cnn; do
  C=$RUNS/ck-$m; mkdir -p "$C"
  train "$m-ref" $m "$DEV" fp32 0 0 --dump-params "$C/ref.bin" || continue
  if train "$m-g2g-a" $m "$DEV" fp32 0 3 --set ckpt.dir="$C/g2g" --stop-at $HALF &&
     train "$m-g2g-b" $m "$DEV" fp32 0 0 --set ckpt.dir="$C/g2g" --dump-params "$C/g2g.bin"; then
    r=$(cmpp "$C/ref.bin" "$C/g2g.bin" 0 --exact); rc=$?
    check "$m: $DEV stop@$HALF + $DEV resume == uninterrupted" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$r"
  fi
  if train "$m-g2c-a" $m "$DEV" fp32 2 3 --set ckpt.dir="$C/g2c" --stop-at $HALF &&
     train "$m-g2c-b" $m cpu fp32 0 0 --set ckpt.dir="$C/g2c" --dump-params "$C/g2c.bin"; then
    r=$(cmpp "$C/ref.bin" "$C/g2c.bin" 1e-3); rc=$?
    check "$m: $DEV z2 ckpt -> cpu z0 resume" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$r"
  fi
  if train "$m-c2g-a" $m cpu fp32 3 3 --set ckpt.dir="$C/c2g" --stop-at $HALF &&
     train "$m-c2g-b" $m "$DEV" fp32 1 0 --set ckpt.dir="$C/c2g" --dump-params "$C/c2g.bin"; then
    r=$(cmpp "$C/ref.bin" "$C/c2g.bin" 1e-3); rc=$?
    check "$m: cpu z3 ckpt -> $DEV z1 resume" "$([ $rc = 0 ] && echo PASS || echo FAIL)" "$r"
  fi
  for s in g2g g2c c2g; do
    grep -q "\"steps_run\":$((STEPS - HALF))" "$RUNS/$m-$s-b/metrics.jsonl" 2>/dev/null ||
      check "$m: $s resumed at step $HALF" FAIL "summary does not show $((STEPS - HALF)) steps run"
  done
done
finish
