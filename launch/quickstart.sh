#!/usr/bin/env bash
# The main job on a fresh Debian machine: installs what is missing, builds in release mode, runs
# 2-rank EsViT pretraining on Fashion-MNIST with the fm-quick preset (swin_mini with patch 4,
# heads 512/128/4096, 2×32 px + 2×16 px crops, 32 images per rank, a 15-minute time budget,
# k-NN on a subset every 500 iterations), draws the curves (curves.svg, curves.png), then evaluates the
# teacher with k-NN (k = 20, the 60k training images as the memory bank, the 10k test images
# classified) and with a linear probe (fast mode), each beside the same network at random
# initialisation, and prints the gains. Checkpoints, log.txt, TensorBoard event files,
# config.json, curves.svg/.png and the two evaluation reports go to OUTPUT_DIR (relative to the
# folder you call it from).
# Running it again continues from the checkpoint (nothing left to train) and re-evaluates.
# Usage: launch/quickstart.sh [OUTPUT_DIR (default runs/quickstart)]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-runs/quickstart}
esvit=$repo/.build/release/esvit
"$repo/launch/setup.sh"
# The fm-quick preset: a 15-minute time budget, the Fashion-MNIST recipe, k-NN every 500
# iterations on a subset (esvit pretrain --preset fm-quick --print-preset shows the options).
"$repo/launch/run-node.sh" -n 2 -- pretrain --preset fm-quick --output-dir "$out"
"$esvit" plot --log "$out" --out "$out/curves.svg"
"$esvit" plot --log "$out" --out "$out/curves.png"
# Each evaluation also measures the run's network at random initialisation (same seed) for the gain.
"$repo/launch/run-node.sh" -n 2 -- eval-knn --checkpoint "$out/checkpoint.safetensors" | tee "$out/eval-knn.txt"
"$repo/launch/run-node.sh" -n 2 -- eval-linear --mode fast --checkpoint "$out/checkpoint.safetensors" | tee "$out/eval-linear.txt"
echo
echo "quickstart: what the pretraining bought, against the same network at random initialisation:"
grep -h '^k-NN (k = 20' "$out/eval-knn.txt" | sed 's/^/  /'
grep -h '^linear probe' "$out/eval-linear.txt" | sed 's/^/  /'
echo "quickstart: checkpoints and logs are in $out (curves: $out/curves.svg; TensorBoard: tensorboard --logdir $out);"
echo "  evaluate other checkpoints with: $esvit eval-knn --checkpoint FILE"
