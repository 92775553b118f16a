# Sourced by tests/e2e/run.sh: Node and the pinned npm packages of the matrix-js-sdk client
# (tchap_user.mjs). Installs Debian's nodejs and npm when node or npm is missing (sudo when not
# root, as deploy/install-packages.sh does), then `npm ci` from package-lock.json into a cache
# folder named after the lock file's hash, so that reruns cost nothing.
# Sets e2e_node (the node binary; OPALEBOT_E2E_NODE chooses another, e.g. to try Debian's Node
# 18 on a machine that has a newer one) and e2e_js_modules (the node_modules folder).
e2e_js_src=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
e2e_js_cache=${OPALEBOT_E2E_JS_CACHE:-$HOME/.cache/opale-bot/e2e-js}

ensure_e2e_js() {
  if [[ -z ${OPALEBOT_E2E_NODE:-} ]] &&
    { ! command -v node > /dev/null || ! command -v npm > /dev/null; }; then
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "e2e: installing Debian's nodejs and npm (for the matrix-js-sdk client)"
    $sudo apt-get update -qq || return 1
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      nodejs npm || return 1
  fi
  e2e_node=${OPALEBOT_E2E_NODE:-$(command -v node)}
  local key dir
  key=$(sha256sum "$e2e_js_src/package-lock.json" | cut -c1-16) || return 1
  dir=$e2e_js_cache/$key
  if [[ ! -f $dir/.complete ]]; then
    echo "e2e: installing the js-sdk client's npm packages into $dir"
    rm -rf "$dir"
    mkdir -p "$dir" || return 1
    cp "$e2e_js_src/package.json" "$e2e_js_src/package-lock.json" "$dir/" || return 1
    # matrix-js-sdk declares node >= 20; Debian 12 has 18, on which it runs (see tchap_user.mjs).
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error --engine-strict=false) || {
      echo "e2e: npm ci failed in $dir" >&2
      return 1
    }
    touch "$dir/.complete"
  fi
  e2e_js_modules=$dir/node_modules
  # The client loads the SDK and its WebAssembly crypto with this node, or the tier fails here.
  local out
  out=$("$e2e_node" "$e2e_js_src/tchap_user.mjs" --self-test --modules "$e2e_js_modules" 2>&1) || {
    echo "e2e: $e2e_node $("$e2e_node" --version) cannot run tchap_user.mjs:" >&2
    grep -v DEBUG <<< "$out" | tail -n 15 >&2
    return 1
  }
}
