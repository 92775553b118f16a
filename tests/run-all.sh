#!/usr/bin/env bash
# Builds and runs every test: installs the Debian packages, builds the AddressSanitizer +
# UBSan variant and runs all CTest tiers under it (unit, then e2e: a real Synapse installed with
# pip into a virtualenv, driven by matrix-nio and matrix-js-sdk), checks the Debian package, then
# prints the answer-quality figures.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash deploy/install-packages.sh
# zstd: the ASan binary is 160 MB once stripped; xz would take 2 min to pack it (package below).
cmake --preset asan -DOPALEBOT_DEB_COMPRESSION=zstd > /dev/null
cmake --build --preset asan
# Unit tier first (fast, offline), then the end-to-end tier against a real Synapse. A process per
# test case, mostly the ASan binary starting: one per core (8 min serial; 5.7 min at -j2 on a busy
# machine, sum of test times 11 min).
ctest --preset asan-unit --output-on-failure --parallel "$(nproc)"
ctest --preset asan --output-on-failure -L e2e
# The Debian package, installed into a throw-away root and purged (tests/package/run.sh). Made
# from the asan tree just built: same install rules, maintainer scripts and computed Depends
# (plus libasan8 and libubsan1); a release tree would cost minutes of CI for the same checks.
bash tests/package/run.sh build/asan
# Figures of the answer-quality sets (gates asserted above; the blind set is measured only).
ASAN_OPTIONS=detect_leaks=1 build/asan/tests/opalebot_tests -ts=kb | grep -E "sure-correct" || true
