#!/usr/bin/env bash
# Builds and runs every test: installs the Debian packages, builds the AddressSanitizer +
# UBSan variant and runs all CTest tiers under it, then prints the answer-quality figures.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash deploy/install-packages.sh
# The asan build runs the whole suite (unit tests, knowledge-base checks, CLI contract).
cmake --preset asan > /dev/null
cmake --build --preset asan
ctest --preset asan --output-on-failure
# Figures of the quality gates (also asserted above): top-1 and out-of-scope answers.
ASAN_OPTIONS=detect_leaks=1 build/asan/tests/opalebot_tests -ts=kb | grep -E "top-1|miss|out-of-scope" || true
