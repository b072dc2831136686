#!/bin/bash
# bench/gpt_torch.sh [BUILD_DIR] — GPT training throughput at C=768, L=12,
# H=12, T=256, micro-batch 2 (V=96), one core: ztrain (model_bench) and
# PyTorch (torch_ref.py), both pinned to the same core, FTZ on both, 1 thread,
# same data and optimizer, plus the core's square sgemm rate through the same
# OpenBLAS measured before and after in the same run; tokens/s and % of the
# sgemm rate (attention FLOPs counted both ways). bench/models.sh does the
# work (CONFIGS=gpt768); ROUNDS (default 1) alternating runs of each side.
here=$(cd "$(dirname "$0")" && pwd)
THREADS=1 CORES=${CORES:-0} ROUNDS=${ROUNDS:-1} CONFIGS=gpt768 exec bash "$here/models.sh" "$@"
