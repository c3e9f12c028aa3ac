#!/usr/bin/env bash
# The learning-parity study of esvit against the official EsViT code (docs/results.md §12): for
# each seed, both implementations train the same recipe for the same number of iterations, with
# the region loss (L_V + L_R) and without it (L_V), and the same esvit evaluators score every
# checkpoint (k-NN k = 20, the fast linear probe, correspondence accuracy). Runs one job at a
# time; a job that finished is skipped, so the same command continues an interrupted study (an
# esvit run resumes from its checkpoint, an official run starts again).
#
# Usage (from the repository's top folder, after launch/setup.sh):
#   tools/official/parity.sh --esvit-repo DIR --python PY --iterations N --out DIR [--seeds "0 1 2"]   (Fashion-MNIST presets)
#                            [--preset fm-quick] [--impls "esvit official"] [--arms "LVLR LV"]
#   tools/official/parity.sh --summary --out DIR          the table: mean ± s.d. per arm, paired differences
# N: the iterations a --time-budget run of the preset plans on this machine (its log prints
# "To repeat this run exactly: --iterations N"), the same for both implementations. Arm LVLRlate
# (esvit only) is L_V + L_R with the region loss from 2/3 of the run (--region-start-fraction 0.667).
set -uo pipefail
cd "$(dirname "$0")/../.."
repo=""; py=""; iters=""; out=""; seeds="0 1 2"; preset="fm-quick"; impls="esvit official"; arms="LVLR LV"; summary=0
while [ $# -gt 0 ]; do
  case "$1" in
    --esvit-repo) repo=$2; shift 2 ;; --python) py=$2; shift 2 ;; --iterations) iters=$2; shift 2 ;;
    --out) out=$2; shift 2 ;; --seeds) seeds=$2; shift 2 ;; --preset) preset=$2; shift 2 ;;
    --impls) impls=$2; shift 2 ;; --arms) arms=$2; shift 2 ;; --summary) summary=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "parity: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] || { echo "parity: --out DIR is required" >&2; exit 2; }
out=$(mkdir -p "$out" && cd "$out" && pwd)
if [ "$summary" -eq 1 ]; then exec python3 tools/official/parity_summary.py "$out"; fi
[ -n "$iters" ] || { echo "parity: --iterations N is required (see --help for how to get N)" >&2; exit 2; }
if [[ " $impls " == *" official "* ]]; then
  [ -f "$repo/main_esvit.py" ] || { echo "parity: --esvit-repo must be a checkout of microsoft/esvit (tools/official/README.md)" >&2; exit 2; }
  [ -x "$py" ] || { echo "parity: --python must be a Python with the stack of tools/reference/requirements.txt" >&2; exit 2; }
fi
esvit=.build/release/esvit
[ -x "$esvit" ] || { echo "parity: $esvit not found; run launch/setup.sh first" >&2; exit 2; }

evaluate() {   # name, then the weights options
  local name=$1; shift
  [ -f "$out/$name.eval.done" ] && return 0
  { echo "== eval-knn"; "$esvit" eval-knn "$@" --no-baseline
    echo "== eval-linear fast"; "$esvit" eval-linear "$@" --mode fast --no-baseline
    echo "== eval-correspondence"; "$esvit" eval-correspondence "$@" --no-baseline; } > "$out/$name.eval.txt" 2>&1 < /dev/null \
    && touch "$out/$name.eval.done"
}

train() {      # impl arm seed
  local impl=$1 arm=$2 seed=$3 name="$1-$2-s$3" dense=true extra=()
  [ "$arm" = LV ] && dense=false
  [ "$arm" = LVLRlate ] && extra=(--region-start-fraction 0.667)
  [ -f "$out/$name.train.done" ] && return 0
  local start; start=$(date +%s)
  if [ "$impl" = esvit ]; then
    launch/run-node.sh -n 2 -- pretrain --preset "$preset" --iterations "$iters" --seed "$seed" --use-dense-prediction "$dense" \
      "${extra[@]}" --output-dir "$out/$name" >> "$out/$name.out" 2>&1 < /dev/null || return 1
  else
    [ "$arm" = LVLRlate ] && { echo "parity: the official harness has no late region loss; skipping $name"; return 1; }
    rm -rf "${out:?}/$name"
    "$py" tools/official/run_official.py --esvit-repo "$repo" --threads 2 --iterations "$iters" --seed "$seed" \
      --use-dense-prediction "$dense" --log-every 100 --output-dir "$out/$name" > "$out/$name.out" 2>&1 < /dev/null || return 1
  fi
  echo "$name trained in $(( $(date +%s) - start )) s" >> "$out/times.txt"
  touch "$out/$name.train.done"
}

if [ ! -f "$out/random-init.eval.done" ]; then
  { for c in eval-knn "eval-linear --mode fast" eval-correspondence; do
      echo "== $c"; "$esvit" $c --random-init --arch swin_mini --patch-size 4; done; } > "$out/random-init.eval.txt" 2>&1 < /dev/null \
    && touch "$out/random-init.eval.done"
fi
for seed in $seeds; do
  for impl in $impls; do
    for arm in $arms; do
      name="$impl-$arm-s$seed"
      echo "parity: $name"
      train "$impl" "$arm" "$seed" || { echo "parity: $name did not train (see $out/$name.out)"; continue; }
      if [ "$impl" = esvit ]; then evaluate "$name" --checkpoint "$out/$name/checkpoint.safetensors"
      else evaluate "$name" --weights "$out/$name/checkpoint.pth" --arch swin_mini --patch-size 4; fi
    done
  done
done
python3 tools/official/parity_summary.py "$out"
