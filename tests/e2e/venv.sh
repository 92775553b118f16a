# Sourced by tests/e2e/run.sh and tests/bench/matrix_bench.sh: the virtualenv, made with
# Debian's interpreter (python3-venv), holding Synapse and matrix-nio with its encryption
# (vodozemac, a wheel); reused between runs.
e2e_venv=${OPALEBOT_E2E_VENV:-$HOME/.cache/opale-bot/e2e-venv}
# Pinned so that a new release cannot change the test under our feet; bump deliberately.
e2e_requirements=(matrix-synapse==1.163.2 "matrix-nio[e2e]==0.26.0")

ensure_e2e_venv() {
  local stamp="$e2e_venv/.opalebot-e2e-requirements"
  if [[ ! -x $e2e_venv/bin/python ]] || ! "$e2e_venv/bin/python" -c 'import sys' 2> /dev/null; then
    echo "e2e: creating virtualenv $e2e_venv"
    rm -rf "$e2e_venv" 2> /dev/null || true
    mkdir -p "$(dirname "$e2e_venv")" || return 1
    /usr/bin/python3 -m venv "$e2e_venv" || {
      echo "e2e: /usr/bin/python3 -m venv failed (is the Debian package python3-venv installed?)" >&2
      return 1
    }
  fi
  if [[ "$(cat "$stamp" 2> /dev/null)" != "${e2e_requirements[*]}" ]] ||
    ! "$e2e_venv/bin/python" -c 'import synapse.app.homeserver, nio.crypto; assert nio.crypto.ENCRYPTION_ENABLED' 2> /dev/null; then
    echo "e2e: installing ${e2e_requirements[*]} into $e2e_venv (first run: a minute or two)"
    "$e2e_venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "${e2e_requirements[@]}" || return 1
    "$e2e_venv/bin/python" -c 'import synapse.app.homeserver, nio.crypto; assert nio.crypto.ENCRYPTION_ENABLED' || return 1
    echo "${e2e_requirements[*]}" > "$stamp"
  fi
}
