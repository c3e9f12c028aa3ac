#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds in release mode, runs every test
# (kernels vs Double references + finite differences, PyTorch fixtures, safetensors, CLI).
# Ends with a plain "tests: N passed, N failed, N skipped" line. Usage: launch/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
launch/setup.sh
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
