#!/usr/bin/env bash
# Several nodes: run esvit under mpirun with a hostfile over TCP. Keepalive probes make a lost
# node end the job in ~10 s instead of hanging (Open MPI's defaults wait ~8 minutes); set
# ESVIT_MPIRUN_FLAGS for site-specific flags (e.g. interface selection).
# Usage: launch/run-cluster.sh --hostfile FILE [-n RANKS] [--threads-per-rank T] [--bind core|none] -- ESVIT_ARGS...
#   e.g. launch/run-cluster.sh --hostfile hostfiles/cluster.example -n 4 -- doctor --check-mpi
# --bind none: no core binding (nodes whose cores are shared, containers that all see the same cores).
# The esvit binary must exist at the same path on every node (shared file system or a copy).
# esvit runs in the folder you call this from, on every node (--wdir: a node without that folder
# refuses to start instead of falling back to $HOME): relative paths in ESVIT_ARGS and --hostfile are yours.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
hostfile=""; ranks=""; per=1; bindmode=core
while [ $# -gt 0 ]; do
  case "$1" in
    --hostfile) hostfile="$2"; shift 2 ;;
    -n|--ranks) ranks="$2"; shift 2 ;;
    --threads-per-rank) per="$2"; shift 2 ;;
    --bind) bindmode="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "run-cluster: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$hostfile" ] && [ -f "$hostfile" ] || { echo "run-cluster: --hostfile FILE is required (see hostfiles/cluster.example)" >&2; exit 2; }
[ $# -gt 0 ] || { echo "run-cluster: no esvit arguments after --" >&2; exit 2; }
np=(); [ -n "$ranks" ] && np=(-np "$ranks")
root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
bin="$repo/.build/release/esvit"
case "$bindmode" in
  core) bind=(--map-by "slot:PE=$per" --bind-to core) ;;
  none) bind=(--bind-to none) ;;
  *) echo "run-cluster: --bind takes core or none" >&2; exit 2 ;;
esac
export OPENBLAS_NUM_THREADS=$per
. "$repo/launch/graceful.sh"     # SIGTERM/Ctrl-C/SIGUSR1 stop the job after a checkpoint (exit 75)
# shellcheck disable=SC2086
run_mpirun_gracefully "${root[@]}" --hostfile "$hostfile" "${np[@]}" "${bind[@]}" --wdir "$PWD" \
  --mca pml ob1 --mca btl tcp,vader,self \
  --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3 \
  -x OPENBLAS_NUM_THREADS ${ESVIT_MPIRUN_FLAGS:-} "$bin" "$@"
