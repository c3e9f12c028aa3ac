#!/usr/bin/env bash
# One recipe-search trial: 2-rank pretraining on Fashion-MNIST with the given esvit pretrain
# options, then the teacher's k-NN (k = 20, full protocol: 60k memory bank, 10k test images)
# from the run's final periodic evaluation. Appends one row to tools/recipe/results.tsv:
#   date, name, k-NN top-1, img/s (median logged), iterations, training minutes, options.
# Usage: tools/recipe/try.sh NAME [PRETRAIN_OPTIONS...]   (runs go to runs/search/NAME)
set -euo pipefail
cd "$(dirname "$0")/../.."
name=$1; shift
out=runs/search/$name
mkdir -p runs/search
rm -rf "$out"
start=$(date +%s)
launch/run-node.sh -n 2 -- pretrain --output-dir "$out" --saveckp-freq 0 --log-every 20 \
  --eval-every-iters 1000000 --eval-train-limit 60000 --eval-test-limit 10000 "$@" > "$out.out" 2>&1 || { echo "$name failed: see $out.out"; exit 1; }
minutes=$(( ($(date +%s) - start) / 60 ))
python3 - "$out/log.txt" "$name" "$minutes" "$*" >> tools/recipe/results.tsv <<'PY'
import json, sys, statistics, datetime
rows = [json.loads(l) for l in open(sys.argv[1])]
knn = [r["knn_top1"] for r in rows if "knn_top1" in r]
ips = [r["img_per_s"] for r in rows if "img_per_s" in r]
its = max(r.get("iteration", 0) for r in rows)
print("\t".join([datetime.date.today().isoformat(), sys.argv[2], f"{knn[-1]:.2f}", f"{statistics.median(ips):.0f}", str(its), sys.argv[3], sys.argv[4]]))
PY
tail -1 tools/recipe/results.tsv
