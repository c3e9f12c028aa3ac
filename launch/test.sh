#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds in release mode, runs every test
# (kernels vs Double references + finite differences, PyTorch fixtures, safetensors, CLI).
# Ends with a plain "tests: N passed, N failed, N skipped" line. Usage: launch/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh
# What only the tests need: a real SLURM (slurm-wlm, munge) for the launch tests, iproute2 and
# util-linux for the simulated cluster and the folder-lock test.
TEST_PKGS=(slurm-wlm munge iproute2 util-linux)
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
swift test -c release --disable-swift-testing 2>&1 | tee "$log" | grep -vE "^\[[0-9]+/[0-9]+\]|^Test Case .* started" || true
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
