#!/usr/bin/env bash
# The Matrix benchmark (issues 3 and 7): opale-bot's reply latency and memory against a minimal
# matrix-nio bot, on a local Synapse, in plaintext rooms and in end-to-end encrypted ones (what
# encryption adds to a reply). Prints figures, asserts nothing. About a minute with N = 200.
# Usage: tests/bench/matrix_bench.sh [OPALE_BOT] [N]   (default: build/release/opale-bot, 200)
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bot=$(realpath "${1:-$top/build/release/opale-bot}")
source "$top/tests/e2e/venv.sh"
ensure_e2e_venv
exec "$e2e_venv/bin/python" -u "$top/tests/bench/matrix_bench.py" "$bot" "$top/knowledge/content" "${2:-200}"
