#!/usr/bin/env bash
# Builds opale-bot (release) and starts it. With a config file (OPALEBOT_CONFIG, or
# ~/.config/opale-bot/config.yaml; see deploy/config.example.yaml) it runs the Matrix bot;
# with no homeserver configured it starts in console mode: type a question or a !commande,
# one per line; Ctrl-D quits.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash deploy/install-packages.sh
cmake --preset release > /dev/null
cmake --build --preset release --target opale-bot
config="${OPALEBOT_CONFIG:-${XDG_CONFIG_HOME:-$HOME/.config}/opale-bot/config.yaml}"
if [ -f "$config" ]; then
  echo "opale-bot : configuration $config"
  build/release/opale-bot config check "$config"
  exec build/release/opale-bot run --config "$config" "$@"
fi
state="${XDG_STATE_HOME:-$HOME/.local/state}/opale-bot"
mkdir -p "$state"
echo "opale-bot en mode console (aucun serveur Matrix configuré : voir deploy/config.example.yaml). Essayez : !aide"
exec build/release/opale-bot console --db "$state/console.db" --kb knowledge/content "$@"
