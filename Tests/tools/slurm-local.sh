#!/usr/bin/env bash
# A real one-node SLURM on localhost for esvit's tests: munged, slurmctld and slurmd from
# Debian's slurm-wlm and munge packages, each with its own key, socket, ports, spool and logs
# under one folder, started and stopped by their process ids (nothing system-wide is touched).
#
# Usage (as root):
#   Tests/tools/slurm-local.sh up DIR     start the daemons; wait until the node is idle
#   Tests/tools/slurm-local.sh down DIR   stop them by the pids in DIR (always; also after a failure)
#   Tests/tools/slurm-local.sh check      exit 0 if this machine can run it, else print why
# Then point the client commands at it:  export SLURM_CONF=DIR/slurm.conf
#   sbatch --wait -N1 --ntasks-per-node=2 launch/slurm.sbatch doctor --check-mpi
# Ports: the first free pair from ESVIT_SLURM_PORT (slurmctld, default 46817; slurmd the next).
# The daemons' own output goes to DIR/daemons.out (never to the caller's stdout, which a test
# reads to its end).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

die() { echo "slurm-local: $*" >&2; exit 1; }

check() {
  [ "$(id -u)" -eq 0 ] || die "needs root (slurmd runs jobs as their users)"
  for b in munged slurmctld slurmd sbatch srun sinfo; do
    command -v "$b" >/dev/null || die "$b not found (apt-get install slurm-wlm munge)"
  done
}

# True if something listens on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

up() {
  local dir=$1 port=${ESVIT_SLURM_PORT:-46817} host cpus mem
  check
  for _ in $(seq 1 20); do
    listening "$port" || listening $((port + 1)) || break
    port=$((port + 2))
  done
  listening "$port" && die "no free port pair from ${ESVIT_SLURM_PORT:-46817} on"
  # The daemons outlive this script: they must not inherit its descriptors beyond 0-2 (a caller
  # such as Foundation's Process watches one of them to learn when this script has ended).
  local fd
  for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-" 2>/dev/null; done
  mkdir -p "$dir"/{munge,state,spool}
  dir=$(cd "$dir" && pwd)
  chmod 0700 "$dir/munge"
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(slurmd -C | sed -nE 's/.*RealMemory=([0-9]+).*/\1/p')
  sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CPUS@|$cpus|g" -e "s|@MEM@|${mem:-1000}|g" \
      -e "s|@USER@|$(id -un)|g" -e "s|@CTLD_PORT@|$port|g" -e "s|@SLURMD_PORT@|$((port + 1))|g" \
      "$here/slurm/slurm.conf.in" > "$dir/slurm.conf"
  # Its own munge key and socket, so a site's munged (if any) is neither used nor disturbed.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 0400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
         --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed" \
         </dev/null >>"$dir/daemons.out" 2>&1 || die "munged did not start (see $dir/munged.log)"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -i -f "$SLURM_CONF" </dev/null >>"$dir/daemons.out" 2>&1 || die "slurmctld did not start (see $dir/slurmctld.log)"
  slurmd -f "$SLURM_CONF" </dev/null >>"$dir/daemons.out" 2>&1 || die "slurmd did not start (see $dir/slurmd.log)"
  for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)
    case "$state" in
      idle*)
        # Our own controller answers (not another one on the same port): its pid file names it.
        [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null || die "slurmctld is not running (see $dir/slurmctld.log)"
        echo "slurm-local: up: node $host idle, $cpus CPUs, ports $port-$((port + 1)); export SLURM_CONF=$SLURM_CONF"; return 0 ;;
      drain*|down*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  die "the node did not become idle (state '${state:-none}'); see $dir/slurmctld.log and $dir/slurmd.log"
}

down() {
  local dir=$1 f pid
  for f in slurmd slurmctld munged; do
    [ -f "$dir/$f.pid" ] || continue
    pid=$(cat "$dir/$f.pid" 2>/dev/null || true)
    [ -n "$pid" ] || continue
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Job steps the daemons left (slurmstepd) end with them.
  pkill -KILL -f "slurmstepd.*$dir" 2>/dev/null || true
  echo "slurm-local: down ($dir)"
}

case "${1:-}" in
  up) [ $# -eq 2 ] || die "usage: up DIR"; up "$2" ;;
  down) [ $# -eq 2 ] || die "usage: down DIR"; down "$2" ;;
  check) check ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
