#!/usr/bin/env bash
# quickstart.sh — from a fresh Debian 12 clone to a real training job:
# installs and builds (scripts/setup.sh), prepares the real MNIST digits, and
# trains an MLP on 2 ranks (mpirun, or srun inside a Slurm allocation) with
# progress, metrics (runs/mnist_mlp/metrics.jsonl) and checkpoints
# (runs/mnist_mlp/ckpt), and ends by drawing the run (runs/mnist_mlp/metrics.png).
# Extra arguments are passed to `ztrain train`.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -f data/mnist.h5 ] || build/trainer/ztrain data prep mnist data/mnist.h5 data/raw/mnist
mkdir -p runs/mnist_mlp
# a fresh run each time: drop an old run's checkpoints (comment out to resume)
rm -rf runs/mnist_mlp/ckpt runs/mnist_mlp/metrics.jsonl
rc=0
launcher/ztrain-launch -n 2 -- build/trainer/ztrain train --config configs/mnist_mlp.ini "$@" || rc=$?
# the run as a picture (loss, accuracy, throughput; checkpoints and restarts)
build/trainer/ztrain plot runs/mnist_mlp/metrics.jsonl runs/mnist_mlp/metrics.png \
    && echo "quickstart: plot of the run: $PWD/runs/mnist_mlp/metrics.png"
exit $rc
