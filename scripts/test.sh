#!/usr/bin/env bash
# test.sh — the whole suite on a fresh Debian 12 box: set-up (idempotent:
# packages, MNIST download, build), the GPU-build check, then every test:
# Criterion unit tests, multi-rank tests via mpirun, and end-to-end tests on a
# real local Slurm cluster that the tests start and stop themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/check-gpu-build.sh
cd build
start=$(date +%s)
# unit tests are independent: two at a time; the rest use all cores, one by one
ctest --output-on-failure -L unit -j2 --timeout 300
ctest --output-on-failure -LE unit --timeout 900
# ASan+UBSan build: unit tests + a 2-rank train/checkpoint/resume; then 60 s
# of libFuzzer per target (config, dataset, checkpoint). Both fail on any report.
cd ..
./scripts/sanitize.sh
./scripts/fuzz.sh --ci
echo "test.sh: all tests passed in $(( $(date +%s) - start )) s"
