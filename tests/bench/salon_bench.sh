#!/usr/bin/env bash
# The large encrypted salon benchmark (issue 15): opale-bot in one encrypted room with 500
# members and 1,000 devices on a local Synapse. Prints the time to the first reply (the bot
# queries, claims and shares the room key for every device), the steady reply latency, the
# replies after a Megolm rotation and right after a member leaves, the bot's peak RSS, and how
# it batches /keys/query, /keys/claim and /sendToDevice. Asserts nothing; about 8 minutes on two
# cores, most of it making the members. Runs under nice -n 10 (a shared machine).
# Usage: tests/bench/salon_bench.sh [OPALE_BOT] [--members N] [--devices N] [--questions N]
#          [--leaves N] [--rotation-msgs N] [--keep]
#   OPALE_BOT defaults to build/release/opale-bot; --keep keeps the work directory (logs, the
#   relay's records of every request the bot made).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bot=$(realpath "${1:-$top/build/release/opale-bot}")
shift || true
source "$top/tests/e2e/venv.sh"
ensure_e2e_venv
exec nice -n 10 "$e2e_venv/bin/python" -u "$top/tests/bench/salon_bench.py" "$bot" \
  "$top/knowledge/content" "$@"
