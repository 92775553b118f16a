#!/usr/bin/env bash
# End-to-end tier: a real Synapse (SQLite, 127.0.0.1, free port) in a virtualenv, the real
# opale-bot, and matrix-nio clients as the humans (alice, bob, mallory; admin for the admin API).
# Scenario t adds a Tchap user on matrix-js-sdk with its Rust crypto (Element's engine, run by
# Node: js/tchap_user.mjs, installed by js/ensure.sh) for what only that engine shows: shields,
# its own push-rule evaluation, withheld keys, identity resets.
# Scenarios are in scenarios.py, process control and Matrix helpers in harness.py.
#
# Usage: run.sh OPALE_BOT_BINARY KB_DIR [--no-bot] [--only b,c,...]
#   --no-bot   only Synapse and the nio harness (register, rooms, alice <-> bob)
#   --only     scenarios to run after "a" (b c d e f g h i j k l m n p r s t u v w x)
# Environment:
#   OPALEBOT_E2E_VENV      virtualenv to create or reuse (default ~/.cache/opale-bot/e2e-venv)
#   OPALEBOT_E2E_JS_CACHE  where the pinned npm packages go (default ~/.cache/opale-bot/e2e-js)
#   OPALEBOT_E2E_NODE      node binary for the js-sdk user (default: node, from Debian if missing)
#   OPALEBOT_E2E_KEEP      1: keep the temporary directory (logs, configs, databases)
#
# Fails, never skips, when the virtualenv, Synapse, matrix-nio or the js-sdk client cannot be
# set up.
# Last line: "N passed, M failed"; exit status 1 on any failure.
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 OPALE_BOT_BINARY KB_DIR [--no-bot] [--only b,c,...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
bot=$(realpath "$1")
kb=$(realpath "$2")
shift 2
[[ -x $bot ]] || { echo "e2e: $bot is not an executable" >&2; echo "0 passed, 1 failed"; exit 1; }
[[ -d $kb ]] || { echo "e2e: $kb is not a directory" >&2; echo "0 passed, 1 failed"; exit 1; }

started=$SECONDS
fatal() {
  echo "e2e: FAIL setup: $*" >&2
  echo "0 passed, 1 failed"
  exit 1
}

# 1. The virtualenv with Synapse and matrix-nio (shared with tests/bench/matrix_bench.sh).
source "$here/venv.sh"
ensure_e2e_venv || fatal "the virtualenv $e2e_venv could not be set up (see above)"
venv=$e2e_venv

# 1b. Node and the pinned matrix-js-sdk for scenario t's user (installed when missing).
source "$here/js/ensure.sh"
ensure_e2e_js || fatal "the matrix-js-sdk client could not be set up (see above)"
export OPALEBOT_E2E_NODE=$e2e_node OPALEBOT_E2E_JS_MODULES=$e2e_js_modules

# 2. A temporary directory for Synapse's data and logs, the bot's config, database and log.
work=$(mktemp -d "${TMPDIR:-/tmp}/opalebot-e2e.XXXXXX")
mkdir -p "$work/pids"
driver=""
cleanup() {
  local status=$? pid f
  # The driver first (timeout forwards the signal to scenarios.py, which stops what it started).
  if [[ -n $driver ]] && kill -0 "$driver" 2> /dev/null; then
    kill -TERM "$driver" 2> /dev/null || true
    for _ in $(seq 50); do kill -0 "$driver" 2> /dev/null || break; sleep 0.2; done
  fi
  # Everything scenarios.py started and has not reaped is listed in $work/pids: TERM, then KILL.
  for f in "$work"/pids/*; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    kill -TERM "$pid" 2> /dev/null || true
  done
  for f in "$work"/pids/*; do
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2> /dev/null || true
  done
  if [[ ${OPALEBOT_E2E_KEEP:-0} == 1 ]]; then
    echo "e2e: kept $work" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 3. Synapse, users, the bot and the scenarios (bounded: the whole tier stays under 15 min).
cd "$here"
status=0
timeout --signal=TERM --kill-after=20 780 \
  "$venv/bin/python" -B -u scenarios.py --work "$work" --bot "$bot" --kb "$kb" "$@" &
driver=$!
wait "$driver" || status=$?
driver=""
if [[ $status -eq 124 ]]; then
  echo "FAIL e2e.timeout: the scenarios did not finish within 13 minutes"
  echo "FAIL e2e.timeout" >> "$work/results"
fi

passed=$(grep -c '^PASS' "$work/results" 2> /dev/null || true)
failed=$(grep -c '^FAIL' "$work/results" 2> /dev/null || true)
if [[ $status -ne 0 && ${failed:-0} -eq 0 ]]; then
  echo "FAIL e2e.driver: scenarios.py exited with status $status"
  failed=1
fi
if [[ ${failed:-0} -gt 0 ]]; then
  echo "--- logs in $work (set OPALEBOT_E2E_KEEP=1 to keep them); Synapse warnings (tail):"
  grep -v 'synapse.access.http' "$work/synapse/homeserver.log" 2> /dev/null | tail -n 15 |
    sed 's/^/    | /' || true
fi
echo "e2e: total $((SECONDS - started)) s"
echo "${passed:-0} passed, ${failed:-0} failed"
[[ ${failed:-0} -eq 0 && $status -eq 0 ]]
