#!/usr/bin/env bash
# One node: run esvit under mpirun with N ranks, each bound to cores/N cores and with
# OPENBLAS_NUM_THREADS and --threads matched to them (docs/mpi-design.md §6: spinning BLAS threads must not
# outnumber cores). More ranks than cores: no binding, yield when idle.
# Usage: launch/run-node.sh [-n RANKS] -- ESVIT_ARGS...
#   e.g. launch/run-node.sh -n 2 -- doctor --check-mpi
# esvit runs in the folder you call this from: relative paths in ESVIT_ARGS are yours.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
ranks=2
while [ $# -gt 0 ]; do
  case "$1" in
    -n|--ranks) ranks="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "run-node: unknown option $1 (use -n RANKS -- ESVIT_ARGS)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "run-node: no esvit arguments after --" >&2; exit 2; }
cores=$(nproc)
bin=$repo/.build/release/esvit
[ -x "$bin" ] || { echo "run-node: $bin missing; run $repo/launch/setup.sh first" >&2; exit 1; }
root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
if [ "$ranks" -le "$cores" ]; then
  per=$(( cores / ranks ))
  bind=(--map-by "slot:PE=$per" --bind-to core)
else
  per=1
  bind=(--oversubscribe --bind-to none --mca mpi_yield_when_idle 1)
fi
export OPENBLAS_NUM_THREADS=$per
. "$repo/launch/graceful.sh"     # SIGTERM/Ctrl-C/SIGUSR1 stop the job after a checkpoint (exit 75)
run_mpirun_gracefully "${root[@]}" -np "$ranks" "${bind[@]}" --mca pml ob1 --mca btl self,vader \
  -x OPENBLAS_NUM_THREADS "$bin" "$@"
