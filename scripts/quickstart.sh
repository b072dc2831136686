#!/usr/bin/env bash
# quickstart.sh — from a fresh Debian 12 clone to a real training job:
# installs and builds (scripts/setup.sh), prepares Debian's full
# Fashion-MNIST (60,000 / 10,000 images), and trains the CNN of
# configs/fashion_cnn.ini on 2 ranks (mpirun, or srun inside a Slurm
# allocation) with progress, an evaluation on all 10,000 test images per
# epoch, metrics (runs/fashion_cnn/metrics.jsonl) and checkpoints
# (runs/fashion_cnn/ckpt), and ends by drawing the run
# (runs/fashion_cnn/metrics.png). Extra arguments are passed to `ztrain train`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f data/fashion.h5 ] || build/trainer/ztrain data prep idx data/fashion.h5
mkdir -p runs/fashion_cnn
# a fresh run each time: drop an old run's checkpoints (comment out to resume)
rm -rf runs/fashion_cnn/ckpt runs/fashion_cnn/metrics.jsonl
rc=0
launcher/ztrain-launch -n 2 -- build/trainer/ztrain train --config configs/fashion_cnn.ini "$@" || rc=$?
# the run as a picture (loss, accuracy, throughput; checkpoints and restarts)
build/trainer/ztrain plot runs/fashion_cnn/metrics.jsonl runs/fashion_cnn/metrics.png \
    && echo "quickstart: plot of the run: $PWD/runs/fashion_cnn/metrics.png"
exit $rc
