#!/bin/bash
# usage: run.sh <opalebot_itop_tests> [doctest args]
# Starts the iTop test double on a free loopback port, runs the backend tests against it, and
# stops it (by PID). Fails, never skips, when the double cannot start.
set -u
tests=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)
python3 "$here/itop_double.py" --port 0 --port-file "$dir/port" 2>"$dir/double.log" &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  [ -s "$dir/port" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
if [ ! -s "$dir/port" ]; then
  echo "itop double did not start:" >&2
  cat "$dir/double.log" >&2
  exit 1
fi
OPALEBOT_ITOP_URL="http://127.0.0.1:$(cat "$dir/port")" "$tests" "$@"
status=$?
[ $status -ne 0 ] && cat "$dir/double.log" >&2
exit $status
