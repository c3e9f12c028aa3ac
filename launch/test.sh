#!/usr/bin/env bash
# The test suite: installs what is missing, builds in release mode, runs the tests. Ends with a
# plain "tests: N passed, N failed, N skipped" line.
#   launch/test.sh           everything (what .ci/run runs): also the tests that start processes,
#                            mpirun, a real SLURM and simulated nodes (about 3 minutes after the build)
#   launch/test.sh --quick   unit and fixture tests only (kernels vs Double references and finite
#                            differences, PyTorch fixtures, checkpoints, options): seconds after the build
#   launch/test.sh --no-slurm   everything but the SLURM tests
# What the whole suite does to the machine: installs missing Debian packages (apt-get, root or
# sudo): the build's, and slurm-wlm, munge, iproute2, util-linux for the tests. The SLURM tests
# start munged, slurmctld and slurmd on localhost (as root: its own munge key and configuration in
# a temporary folder, stopped at the end); the simulated cluster creates network namespaces
# (root). --no-slurm installs no SLURM and starts no daemons.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0; slurm=1
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    --no-slurm) slurm=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "test: unknown option $arg (use --quick, --no-slurm, or nothing for the whole suite)" >&2; exit 2 ;;
  esac
done
# The slow tier: tests that start esvit, mpirun, SLURM or network namespaces, or train for seconds.
SLOW="BudgetRunTests|SimulatedBudgetTests|SlurmTests|EvalCommandTests|FaultTests|DataParallelTests|GracefulStopTests|MultiNodeTrainingTests|EpochCheckpointTests|LaunchTests"
launch/setup.sh
# What only the tests need: a real SLURM (slurm-wlm, munge) for the launch tests, iproute2 and
# util-linux for the simulated cluster and the folder-lock test.
TEST_PKGS=(iproute2 util-linux)
[ "$slurm" -eq 1 ] && TEST_PKGS+=(slurm-wlm munge)
[ "$quick" -eq 1 ] && TEST_PKGS=()
missing=()
for p in "${TEST_PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "test: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
log=$(mktemp)
skip=(); [ "$quick" -eq 1 ] && skip=(--skip "$SLOW")
[ "$quick" -eq 0 ] && [ "$slurm" -eq 0 ] && skip=(--skip SlurmTests)
set +e
swift test -c release --disable-swift-testing "${skip[@]}" 2>&1 | tee "$log" | grep -vE "^\[[0-9]+/[0-9]+\]|^Test Case .* started"
status=${PIPESTATUS[0]}
set -e
# XCTest's overall result: the "Executed N tests, with [K test(s) skipped and ]F failures" line
# right after "Test Suite 'All tests'" (or 'Selected tests' with --skip) passed/failed. A runner
# that crashed never prints it: that, or a non-zero exit, is a failure whatever else was printed.
summary=$(grep -A1 -E "^Test Suite '(All tests|Selected tests)' (passed|failed)" "$log" | grep -E "^\s*Executed [0-9]+ tests?, with " | tail -1 || true)
crashed=$(grep -cE "^Fatal error|Program crashed|^\*\*\* Signal [0-9]+" "$log" || true)
rm -f "$log"
if [ -z "$summary" ]; then
  echo "tests: no overall test summary (the build failed or the test runner crashed; exit code $status): 0 passed, 1 failed"
  exit 1
fi
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=0
grep -qE "with [0-9]+ tests? skipped" <<<"$summary" && skipped=$(sed -E 's/.*with ([0-9]+) tests? skipped.*/\1/' <<<"$summary")
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped$([ "$slurm" -eq 0 ] && [ "$quick" -eq 0 ] && echo " (SLURM tests not run: --no-slurm)")"
if [ "$status" -ne 0 ] || [ "$failed" -ne 0 ] || [ "$crashed" -ne 0 ]; then
  echo "test: FAILED (swift test exit code $status, $failed failure(s), $crashed crash report(s))" >&2
  exit 1
fi
