#!/usr/bin/env bash
# A simulated cluster on one Linux host for esvit's multi-node tests: N "nodes" that are network
# namespaces, joined by veth pairs to a bridge in one more "hub" namespace, so that Open MPI's
# mpirun starts its daemons on them through an rsh agent (this script) and the ranks talk TCP.
#
# Topology (namespace names use the prefix $SIM_PREFIX, default esvsim):
#   esvsim-hub     bridge br0; veth ends n0 .. n<N-1> are its ports
#   esvsim-node<i> eth0 (peer of n<i> in the hub) = 10.200.0.(10+i)/24, and lo
# Nothing is added to the root namespace's network and no namespace has a default route: only
# 10.200.0.0/24 between these namespaces is reachable (traffic never leaves the host). IPv6 is
# off in the nodes. Commands run in a node see the hostname node<i> (own UTS namespace), so MPI's
# processor names differ per node. State (node count, hostfile) is kept in
# /run/esvit-sim-cluster/<prefix>/.
#
# Usage (as root):
#   sim-cluster.sh check             exit 0 if this machine can run it, else print why and exit 1
#   sim-cluster.sh up N [HOSTFILE]   make N nodes (1..64); write HOSTFILE (default ./sim-hostfile)
#                                    with lines "10.200.0.(10+i) slots=$SLOTS" (SLOTS default 1)
#   sim-cluster.sh down              kill every process in the namespaces, delete them (idempotent)
#   sim-cluster.sh exec I CMD...     run CMD in node I (hostname node<I>, NETNS_HOSTFILE set)
#   sim-cluster.sh agent HOST CMD... rsh agent for Open MPI: HOST is [user@]node<i> or
#                                    [user@]10.200.0.(10+i); CMD is joined and run by sh -c
#   sim-cluster.sh mpirun ARGS...    mpirun in node 0 with the hostfile, the agent, TCP on
#                                    10.200.0.0/24, --bind-to none, yield when idle, 1 BLAS thread
#   sim-cluster.sh with N CMD...     up N (temporary hostfile, exported as NETNS_HOSTFILE), run CMD
#                                    in the root namespace, always down; exits with CMD's code
#   sim-cluster.sh status            the namespaces and their addresses
# Examples:
#   Tests/tools/sim-cluster.sh with 3 Tests/tools/sim-cluster.sh mpirun -np 3 hostname
#   Tests/tools/sim-cluster.sh with 3 Tests/tools/sim-cluster.sh mpirun -np 3 .build/release/esvit doctor --check-mpi
#   OMPI_MCA_plm_rsh_agent="$PWD/Tests/tools/sim-cluster.sh agent" OMPI_MCA_btl_tcp_if_include=10.200.0.0/24 \
#   OMPI_MCA_oob_tcp_if_include=10.200.0.0/24 Tests/tools/sim-cluster.sh with 3 bash -c \
#     '"$0" exec 0 launch/run-cluster.sh --hostfile "$NETNS_HOSTFILE" -n 3 --bind none -- doctor --check-mpi' \
#     "$PWD/Tests/tools/sim-cluster.sh"
# Environment: SIM_PREFIX (namespace prefix), SLOTS (slots per node), SIM_IP_TIMEOUT (seconds for
# each ip command, default 20).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
PREFIX=${SIM_PREFIX:-esvsim}
STATE_ROOT=/run/esvit-sim-cluster
STATE="$STATE_ROOT/$PREFIX"
T=${SIM_IP_TIMEOUT:-20}
SUBNET=10.200.0.0/24
MAX_NODES=64

die() { echo "sim-cluster: $*" >&2; exit 1; }
usage() { sed -n '2,/^[^#]/{/^#/s/^# \{0,1\}//p}' "$SELF"; }
ipt() { timeout -k 5 "$T" ip "$@"; }                 # every ip command that could hang
hub() { echo "$PREFIX-hub"; }
node_ns() { echo "$PREFIX-node$1"; }
node_ip() { echo "10.200.0.$((10 + $1))"; }
need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN)"; }
is_uint() { [[ "$1" =~ ^[0-9]+$ ]]; }

# Namespaces of this prefix that exist now (hub, nodes, probes).
our_namespaces() {
  ipt netns list 2>/dev/null | awk '{print $1}' |
    grep -E "^$(sed 's/[.[\*^$]/\\&/g' <<<"$PREFIX")-(hub|node[0-9]+|probe[0-9]+)$" | sort -V || true
}

# Serialize up/down of one prefix (flock on a file in the state root).
lock() {
  mkdir -p "$STATE_ROOT"
  exec 9>"$STATE_ROOT/$PREFIX.lock"
  command -v flock >/dev/null && { flock -w 60 9 || die "another up/down of $PREFIX is still running"; }
  return 0
}

# The pids of our own shell and its ancestors (never killed by down, e.g. when called inside a node).
ancestors() {
  local p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    echo "$p"
    p=$(awk '/^PPid:/{print $2}' "/proc/$p/status" 2>/dev/null || true)
  done
}

# Kill every process in namespace $1 (TERM, then KILL), except ourselves and our ancestors.
kill_in_ns() {
  local ns=$1 keep all pids p i sig=TERM
  keep=" $(ancestors | tr '\n' ' ') "
  for i in $(seq 1 40); do
    all=$(ipt netns pids "$ns" 2>/dev/null || true)
    pids=""                                        # (the lister itself has exited by now)
    for p in $all; do [[ "$keep" == *" $p "* ]] || [ ! -e "/proc/$p" ] || pids+=" $p"; done
    [ -n "$pids" ] || return 0
    [ "$i" -gt 20 ] && sig=KILL                    # ~2 s of TERM, then KILL
    # shellcheck disable=SC2086
    kill -s "$sig" $pids 2>/dev/null || true
    sleep 0.1
  done
  echo "sim-cluster: processes still alive in $ns: $(echo $pids)" >&2
  return 1
}

teardown() {
  local ns status=0
  for ns in $(our_namespaces); do kill_in_ns "$ns" || status=1; done
  for ns in $(our_namespaces); do
    ipt netns del "$ns" 2>/dev/null || { [ -e "/run/netns/$ns" ] && { echo "sim-cluster: could not delete $ns" >&2; status=1; }; }
  done
  rm -rf "$STATE"
  return "$status"
}

cmd_check() {
  [ "$(id -u)" -eq 0 ] || { echo "sim-cluster: not root (network namespaces need CAP_NET_ADMIN)"; exit 1; }
  local b
  for b in ip unshare timeout; do
    command -v "$b" >/dev/null || { echo "sim-cluster: $b not found (apt-get install iproute2 util-linux coreutils)"; exit 1; }
  done
  local probe="$PREFIX-probe$$" err
  if ! err=$(ipt netns add "$probe" 2>&1); then
    echo "sim-cluster: cannot create a network namespace: $(echo $err)"; exit 1
  fi
  if ! err=$( { ipt -n "$probe" link add pbr0 type bridge && ipt -n "$probe" link add pv0 type veth peer name pv1; } 2>&1); then
    ipt netns del "$probe" 2>/dev/null || true
    echo "sim-cluster: cannot create a veth pair and a bridge: $(echo $err)"; exit 1
  fi
  if ! err=$(ipt netns del "$probe" 2>&1); then
    echo "sim-cluster: cannot delete a network namespace: $(echo $err)"; exit 1
  fi
  return 0
}

# up N HOSTFILE: sets UP_OWNED=1 once it has started creating (so callers know a down is ours).
UP_OWNED=0
cmd_up() {
  need_root
  local n=${1:-} hostfile=${2:-./sim-hostfile} slots=${SLOTS:-1} i ns h
  is_uint "$n" && [ "$n" -ge 1 ] && [ "$n" -le "$MAX_NODES" ] || die "up: N must be 1..$MAX_NODES (got '${n}')"
  is_uint "$slots" && [ "$slots" -ge 1 ] || die "up: SLOTS must be a positive integer (got '$slots')"
  command -v unshare >/dev/null || die "unshare not found (util-linux)"
  lock
  if [ -d "$STATE" ] || [ -n "$(our_namespaces)" ]; then
    die "already up (prefix $PREFIX; $(our_namespaces | tr '\n' ' ')): run down first, or set SIM_PREFIX"
  fi
  hostfile=$(readlink -f "$hostfile") || die "up: bad hostfile path"
  UP_OWNED=1
  trap 'echo "sim-cluster: up failed; cleaning up" >&2; locked_teardown || true; exit 1' ERR
  trap 'locked_teardown || true; exit 130' INT
  trap 'locked_teardown || true; exit 143' TERM
  set -E
  mkdir -p "$STATE"
  h=$(hub)
  ipt netns add "$h"
  ipt -n "$h" link set lo up
  ipt -n "$h" link add br0 type bridge stp_state 0 forward_delay 0
  ipt -n "$h" link set br0 up
  for ((i = 0; i < n; i++)); do
    ns=$(node_ns "$i")
    ipt netns add "$ns"
    # No IPv6 (no link-local addresses or DAD for MPI to trip on); absent IPv6 is fine.
    timeout -k 5 "$T" ip netns exec "$ns" sh -c \
      'for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do [ -w "$f" ] && echo 1 > "$f"; done; true'
    ipt -n "$ns" link set lo up
    ipt -n "$h" link add "n$i" type veth peer name eth0 netns "$ns"
    ipt -n "$h" link set "n$i" master br0
    ipt -n "$h" link set "n$i" up
    ipt -n "$ns" addr add "$(node_ip "$i")/24" dev eth0
    ipt -n "$ns" link set eth0 up
  done
  # Wait until node 0 reaches every node: a TCP connection to an unused port is refused at once
  # (an answer from the peer's kernel) once the bridge forwards; only 10.200.0.x is contacted.
  if [ "$n" -gt 1 ]; then
    local ips=""
    for ((i = 1; i < n; i++)); do ips+=" $(node_ip "$i")"; done
    timeout -k 5 30 ip netns exec "$(node_ns 0)" bash -c '
      for ip in $0; do
        for try in $(seq 1 100); do
          err=$( (exec 3<>"/dev/tcp/$ip/9") 2>&1 ) && break
          case "$err" in *refused*) break ;; esac
          [ "$try" -eq 100 ] && { echo "node0 cannot reach $ip: $err" >&2; exit 1; }
          sleep 0.1
        done
      done' "$ips"
  fi
  : >"$hostfile.tmp.$$"
  for ((i = 0; i < n; i++)); do echo "$(node_ip "$i") slots=$slots" >>"$hostfile.tmp.$$"; done
  mv -f "$hostfile.tmp.$$" "$hostfile"
  echo "$n" >"$STATE/nodes"
  echo "$hostfile" >"$STATE/hostfile"
  trap - ERR INT TERM
  set +E
  echo "sim-cluster: $n node(s) up (${PREFIX}-node0..$((n - 1)), $(node_ip 0)..$(node_ip $((n - 1)))); hostfile $hostfile" >&2
}

# down under the lock; then the lock file and the (empty) state root go too.
locked_teardown() {
  local status=0
  lock
  teardown || status=1
  rm -f "$STATE_ROOT/$PREFIX.lock"
  rmdir "$STATE_ROOT" 2>/dev/null || true
  exec 9>&-
  return "$status"
}

cmd_down() {
  need_root
  locked_teardown
}

# run_in_node I ARGV...: exec ARGV in node I's network namespace with its own hostname node<I>.
run_in_node() {
  local i=$1; shift
  need_root
  [ -f "$STATE/nodes" ] || die "not up (prefix $PREFIX): run up N first"
  local n; n=$(cat "$STATE/nodes")
  is_uint "$i" && [ "$i" -lt "$n" ] || die "no node '$i' (nodes 0..$((n - 1)))"
  [ -e "/run/netns/$(node_ns "$i")" ] || die "namespace $(node_ns "$i") is missing (run down, then up)"
  NETNS_HOSTFILE=$(cat "$STATE/hostfile"); export NETNS_HOSTFILE
  exec ip netns exec "$(node_ns "$i")" unshare --uts -- sh -c \
    'hostname "$0" 2>/dev/null || printf %s "$0" >/proc/sys/kernel/hostname || exit 1; exec "$@"' "node$i" "$@"
}

cmd_exec() {
  [ $# -ge 2 ] || die "usage: exec I CMD..."
  run_in_node "$@"
}

cmd_agent() {
  # Skip ssh-style options (Open MPI adds none for a non-ssh agent, but be tolerant).
  while [ $# -gt 0 ]; do
    case "$1" in
      -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;;
      --) shift; break ;;
      -*) shift ;;
      *) break ;;
    esac
  done
  [ $# -ge 2 ] || die "agent: usage: agent HOST CMD... (an interactive login is not supported)"
  local host=${1##*@} i; shift
  case "$host" in
    node[0-9]*) i=${host#node} ;;
    10.200.0.[0-9]*) i=$(( ${host#10.200.0.} - 10 )) ;;
    *) die "agent: unknown host '$host' (node<i> or 10.200.0.<10+i>)" ;;
  esac
  is_uint "$i" || die "agent: unknown host '$host'"
  run_in_node "$i" sh -c "$*"
}

cmd_mpirun() {
  need_root
  [ -f "$STATE/hostfile" ] || die "not up (prefix $PREFIX): run up N first"
  local agent="$SELF agent"
  [ -x "$SELF" ] || agent="bash $SELF agent"       # Open MPI needs an executable agent
  local root=(); [ "$(id -u)" -eq 0 ] && root=(--allow-run-as-root)
  run_in_node 0 mpirun "${root[@]}" --hostfile "$(cat "$STATE/hostfile")" --bind-to none \
    --mca plm_rsh_agent "$agent" --mca pml ob1 --mca btl tcp,vader,self \
    --mca btl_tcp_if_include "$SUBNET" --mca oob_tcp_if_include "$SUBNET" \
    --mca mpi_yield_when_idle 1 -x OPENBLAS_NUM_THREADS=1 "$@"
}

cmd_with() {
  [ $# -ge 2 ] || die "usage: with N CMD..."
  local n=$1; shift
  local hostfile; hostfile=$(mktemp /tmp/esvit-sim-hostfile.XXXXXX)
  local child=""
  # Always down afterwards (and on TERM/INT, after stopping CMD), but never tear down a cluster
  # that was already up before us (then up fails before UP_OWNED is set).
  # shellcheck disable=SC2317
  finish() {
    local code=$1
    trap - EXIT INT TERM
    if [ -n "$child" ]; then                      # give CMD (e.g. mpirun) ~3 s to stop its job
      kill -TERM "$child" 2>/dev/null || true
      local t st
      for t in $(seq 1 30); do
        st=$(ps -o stat= -p "$child" 2>/dev/null || true)
        [ -z "$st" ] || [[ "$st" == Z* ]] && break
        sleep 0.1
      done
    fi
    if [ "$UP_OWNED" = 1 ] && ! (locked_teardown); then [ "$code" = 0 ] && code=1; fi
    rm -f "$hostfile"
    exit "$code"
  }
  trap 'finish $?' EXIT
  trap 'finish 130' INT
  trap 'finish 143' TERM
  cmd_up "$n" "$hostfile"
  exec 9>&-                                       # release the up lock
  trap 'finish $?' EXIT
  trap 'finish 130' INT
  trap 'finish 143' TERM
  export NETNS_HOSTFILE=$hostfile SIM_PREFIX=$PREFIX
  # The script itself is accepted as CMD even without its executable bit.
  local cmd=("$@")
  if [ -f "$1" ] && [ ! -x "$1" ] && [ "$(readlink -f "$1")" = "$SELF" ]; then cmd=(bash "$@"); fi
  # In the background (so a TERM reaches the trap at once), keeping our stdin.
  exec 8<&0
  "${cmd[@]}" <&8 8<&- &
  child=$!
  exec 8<&-
  local code=0
  wait "$child" || code=$?
  child=""
  finish "$code"
}

cmd_status() {
  need_root
  local ns any=0
  if [ -f "$STATE/nodes" ]; then
    echo "prefix $PREFIX: $(cat "$STATE/nodes") node(s); hostfile $(cat "$STATE/hostfile")"
  fi
  for ns in $(our_namespaces); do
    any=1
    printf '%-20s %s\n' "$ns" "$(ipt -n "$ns" -4 -o addr show scope global 2>/dev/null |
      awk '{printf "%s %s  ", $2, $4}')$( [ "$ns" = "$(hub)" ] && echo "bridge br0, $(ipt -n "$ns" -o link show master br0 2>/dev/null | wc -l) port(s)")"
  done
  [ "$any" = 1 ] || echo "prefix $PREFIX: nothing up"
}

case "${1:-}" in
  check)  shift; cmd_check "$@" ;;
  up)     shift; cmd_up "$@" ;;
  down)   shift; cmd_down ;;
  exec)   shift; cmd_exec "$@" ;;
  agent)  shift; cmd_agent "$@" ;;
  mpirun) shift; cmd_mpirun "$@" ;;
  with)   shift; cmd_with "$@" ;;
  status) shift; cmd_status ;;
  ""|-h|--help|help) usage ;;
  *) usage >&2; die "unknown subcommand '$1'" ;;
esac
