#!/usr/bin/env bash
# Installs the Debian packages esvit needs (only those missing) and builds it in release mode.
# Usage: launch/setup.sh            (run from anywhere; needs root or sudo for apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(libopenmpi-dev openmpi-bin libopenblas-dev libxsmm-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist pkg-config)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${missing[@]}"
fi
command -v swift >/dev/null || { echo "setup: swift not found; install the Swift 6 toolchain (swift.org) and retry" >&2; exit 1; }
echo "setup: building (release)"
swift build -c release 2>&1 | grep -vE "^\[[0-9]+/[0-9]+\] (Compiling|Emitting|Linking|Write|Planning)" || true
test -x .build/release/esvit || { echo "setup: build failed; rerun 'swift build -c release' to see the errors" >&2; exit 1; }
echo "setup: ready: $PWD/.build/release/esvit"
echo "  to call it as plain 'esvit': export PATH=\"$PWD/.build/release:\$PATH\" (e.g. in ~/.bashrc)"
