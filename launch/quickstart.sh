#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what is missing, builds in release mode, runs
# 2-rank EsViT pretraining on Fashion-MNIST with the CPU preset (swin_mini, heads 512/128/4096,
# 2×32 px + 6×16 px crops, 32 images per rank) for one epoch — about 15 minutes on 2 cores —
# then evaluates the teacher with k-NN (k = 20, the 60k training images as the memory bank, the
# 10k test images classified). Checkpoints, log.txt and config.json go to OUTPUT_DIR.
# Running it again continues from the checkpoint (nothing left to train) and re-evaluates.
# Usage: launch/quickstart.sh [OUTPUT_DIR (default runs/quickstart)]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/quickstart}
launch/setup.sh
# One epoch is short, so the recipe's epoch-long warmups are off (see README › Quick start).
launch/run-node.sh -n 2 -- pretrain --output-dir "$out" --epochs 1 --batch-size-per-rank 32 \
  --warmup-epochs 0 --warmup-teacher-temp-epochs 0 --teacher-temp 0.04 --freeze-last-layer 0
launch/run-node.sh -n 2 -- eval-knn --checkpoint "$out/checkpoint.safetensors"
echo "quickstart: checkpoints and logs are in $out; evaluate other checkpoints with: .build/release/esvit eval-knn --checkpoint FILE"
