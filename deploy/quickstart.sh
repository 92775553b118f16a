#!/usr/bin/env bash
# Builds opale-bot (release) and starts it. With no homeserver configured it starts in console
# mode: type a question or a !commande, one per line; Ctrl-D quits.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash deploy/install-packages.sh
cmake --preset release > /dev/null
cmake --build --preset release --target opale-bot
state="${XDG_STATE_HOME:-$HOME/.local/state}/opale-bot"
mkdir -p "$state"
echo "opale-bot en mode console (aucun serveur Matrix configuré). Essayez : !aide"
exec build/release/opale-bot console --db "$state/console.db" --kb knowledge/content "$@"
