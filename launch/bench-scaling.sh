#!/usr/bin/env bash
# Scaling on one node, measured in one run with the runs interleaved (this machine kind is noisy):
#   reference: 1 rank × 1 thread, bound to core 0;
#   MPI:       2 ranks × 1 thread (launch/run-node.sh), per-rank batch fixed (weak scaling);
#   ceiling:   two independent single-process runs at once, one per core, no communication:
#              what the hardware itself gives two copies of this workload.
# Each is `esvit pretrain` on the CPU preset (swin_mini, Fashion-MNIST). Prints medians over
# ROUNDS, the scaling MPI/reference (target >= 1.9x), the ceiling, and the share of step time in
# the all-reduce, split into waiting for the slower rank and the gradient all-reduce itself.
# Usage: launch/bench-scaling.sh [ITERATIONS (default 30)] [BATCH_PER_RANK (default 32)] [ROUNDS (default 3)]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-30}; batch=${2:-32}; rounds=${3:-3}
bin=.build/release/esvit
[ -x "$bin" ] || { echo "bench-scaling: $bin missing; run launch/setup.sh first" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || { echo "bench-scaling: needs 2 cores" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
common=(pretrain --epochs 1 --warmup-epochs 0 --warmup-teacher-temp-epochs 0 --freeze-last-layer 0
        --batch-size-per-rank "$batch" --max-iters "$iters" --log-every 10 --saveckp-iters 0 --threads 1 --loader-threads 1)
# "img/s all-reduce% rank-wait%" averaged over the log intervals after the first 10 iterations.
summary() {
  python3 - "$@" <<'PY'
import json, sys
tot = [0.0, 0.0, 0.0]
for path in sys.argv[1:]:
    rows = [json.loads(l) for l in open(path) if '"img_per_s"' in l]
    rows = [r for r in rows if r["iteration"] > 10]
    n = len(rows)
    tot[0] += sum(r["img_per_s"] for r in rows) / n
    tot[1] += sum(r["allreduce_pct"] for r in rows) / n / len(sys.argv[1:])
    tot[2] += sum(r.get("rank_wait_pct", 0) for r in rows) / n / len(sys.argv[1:])
print(f"{tot[0]:.2f} {tot[1]:.2f} {tot[2]:.2f}")
PY
}
run() { "$@" > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }; }
echo "bench-scaling: swin_mini on Fashion-MNIST, batch $batch per rank, $iters iterations per run (the first 10 are warm-up), $rounds rounds"
: > "$work/rows"
for r in $(seq "$rounds"); do
  rm -rf "$work"/r-*
  run env OPENBLAS_NUM_THREADS=1 taskset -c 0 "$bin" "${common[@]}" --output-dir "$work/r-one"
  run launch/run-node.sh -n 2 -- "${common[@]}" --output-dir "$work/r-mpi"
  ( OPENBLAS_NUM_THREADS=1 taskset -c 0 "$bin" "${common[@]}" --output-dir "$work/r-a" > "$work/a.out" 2>&1 &
    OPENBLAS_NUM_THREADS=1 taskset -c 1 "$bin" "${common[@]}" --seed 1 --output-dir "$work/r-b" > "$work/b.out" 2>&1; wait ) \
    || { cat "$work/a.out" "$work/b.out" >&2; exit 1; }
  read -r one _ _ < <(summary "$work/r-one/log.txt")
  read -r mpi ar wait < <(summary "$work/r-mpi/log.txt")
  read -r ceil _ _ < <(summary "$work/r-a/log.txt" "$work/r-b/log.txt")
  echo "$one $mpi $ar $wait $ceil" >> "$work/rows"
  echo "  round $r: 1 rank $one img/s, 2 ranks $mpi img/s (all-reduce $ar%, of it waiting for the slower rank $wait%), two independent processes $ceil img/s"
done
python3 - "$work/rows" <<'PY'
import statistics as st, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1])]
one, mpi, ar, wait, ceil = (st.median(c) for c in zip(*rows))
print(f"  medians: 1 rank x 1 thread {one:.1f} img/s; 2 ranks x 1 thread {mpi:.1f} img/s; two independent processes {ceil:.1f} img/s")
print(f"  all-reduce share of step time (rank 0): {ar:.1f}% ({wait:.1f}% waiting for the slower rank, {ar - wait:.1f}% the gradient all-reduce)")
print(f"  scaling 2 ranks / 1 rank: {mpi / one:.2f}x (target >= 1.9x); hardware ceiling (independent / 1): {ceil / one:.2f}x; "
      f"MPI run vs ceiling: {mpi / ceil:.2f}")
PY
