#!/usr/bin/env bash
# The test suite: installs what is missing, builds in release mode, runs the tests. Ends with a
# plain "tests: N passed, N failed, N skipped" line.
#   launch/test.sh           everything (what .ci/run runs): also the tests that start processes,
#                            mpirun, a real SLURM and simulated nodes (about 3 minutes after the build)
#   launch/test.sh --quick   unit and fixture tests only (kernels vs Double references and finite
#                            differences, PyTorch fixtures, checkpoints, options): seconds after the build
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
case "${1:-}" in
  --quick) quick=1 ;;
  "") ;;
  -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
  *) echo "test: unknown option $1 (use --quick, or nothing for the whole suite)" >&2; exit 2 ;;
esac
# The slow tier: tests that start esvit, mpirun, SLURM or network namespaces, or train for seconds.
SLOW="BudgetRunTests|SimulatedBudgetTests|SlurmTests|EvalCommandTests|FaultTests|DataParallelTests|GracefulStopTests|MultiNodeTrainingTests|EpochCheckpointTests|LaunchTests"
launch/setup.sh
# What only the tests need: a real SLURM (slurm-wlm, munge) for the launch tests, iproute2 and
# util-linux for the simulated cluster and the folder-lock test.
TEST_PKGS=(slurm-wlm munge iproute2 util-linux)
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
status=0
skip=(); [ "$quick" -eq 1 ] && skip=(--skip "$SLOW")
swift test -c release --disable-swift-testing "${skip[@]}" 2>&1 | tee "$log" | grep -vE "^\[[0-9]+/[0-9]+\]|^Test Case .* started" || true
status=${PIPESTATUS[0]}
# XCTest's overall line: "Executed N tests, with [K test(s) skipped and ]F failures ...".
summary=$(grep -E "^\s*Executed [0-9]+ tests?, with " "$log" | tail -1 || true)
total=$(sed -E 's/.*Executed ([0-9]+) tests?.*/\1/' <<<"$summary")
failed=$(sed -E 's/.* ([0-9]+) failures?.*/\1/' <<<"$summary")
skipped=0
grep -qE "with [0-9]+ tests? skipped" <<<"$summary" && skipped=$(sed -E 's/.*with ([0-9]+) tests? skipped.*/\1/' <<<"$summary")
rm -f "$log"
if [ -z "$summary" ]; then echo "tests: no test summary found (build or runner failure)"; exit 1; fi
echo "tests: $((total - failed - skipped)) passed, $failed failed, $skipped skipped"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
