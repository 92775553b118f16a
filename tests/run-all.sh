#!/usr/bin/env bash
# Builds and runs every test: installs the Debian packages, builds the AddressSanitizer +
# UBSan variant and runs all CTest tiers under it (unit, then e2e: a real Synapse installed with
# pip into a virtualenv, driven by matrix-nio and matrix-js-sdk), then prints the answer-quality
# figures.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash deploy/install-packages.sh
cmake --preset asan > /dev/null
cmake --build --preset asan
# Unit tier first (fast, offline), then the end-to-end tier against a real Synapse.
ctest --preset asan-unit --output-on-failure
ctest --preset asan --output-on-failure -L e2e
# Figures of the answer-quality sets (gates asserted above; the blind set is measured only).
ASAN_OPTIONS=detect_leaks=1 build/asan/tests/opalebot_tests -ts=kb | grep -E "sure-correct" || true
