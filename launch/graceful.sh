# Sourced by run-node.sh and run-cluster.sh: runs mpirun so that stopping the job keeps the work.
# Open MPI's mpirun answers SIGTERM/SIGINT by killing the ranks (SIGTERM, then SIGKILL one second
# later), too soon for a checkpoint; it passes SIGUSR1 on to every rank unchanged. So the first
# SIGTERM, SIGINT (Ctrl-C), SIGUSR1 or SIGUSR2 sent to this script reaches the ranks as SIGUSR1:
# they finish the current iteration, agree to stop there, rank 0 writes the checkpoint, and the
# job exits with code 75. A second Ctrl-C stops mpirun at once.
run_mpirun_gracefully() {
  set +e
  mpirun "$@" &
  local pid=$! status interrupts=0
  trap 'echo "launch: stop requested: the ranks finish this iteration and write a checkpoint" >&2; kill -USR1 "$pid" 2>/dev/null' TERM USR1 USR2
  trap 'interrupts=$((interrupts + 1))
        if [ "$interrupts" -ge 2 ]; then echo "launch: second interrupt: stopping now" >&2; kill -TERM "$pid" 2>/dev/null
        else echo "launch: interrupt: the ranks finish this iteration and write a checkpoint (Ctrl-C again: stop now)" >&2; kill -USR1 "$pid" 2>/dev/null; fi' INT
  while :; do
    wait "$pid"; status=$?
    kill -0 "$pid" 2>/dev/null || break     # wait returned for a trapped signal: keep waiting
  done
  trap - TERM USR1 USR2 INT
  return "$status"
}
