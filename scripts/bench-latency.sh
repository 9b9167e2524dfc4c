#!/usr/bin/env bash
# Measures command → read record and command → SSE notice latency on a fresh
# shop (its own data directory, its own nats-server, demo data off).
# Usage: scripts/bench-latency.sh [release|debug] [updates]
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${VITRINE_TOOLS:-$HOME/.cache/vitrine/tools}/bin:$PATH"
profile=${1:-release}
updates=${2:-300}
target=${CARGO_TARGET_DIR:-$HOME/.cache/vitrine/target}
bin="$target/$profile/vitrine"
[ -x "$bin" ] || { echo "no $bin: build it first (cargo leptos build${profile/debug/}${profile/release/ --release})" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/vitrine-bench-XXXXXX)
log="$data/server.log"
VITRINE_ADDR="127.0.0.1:$port" VITRINE_DATA_DIR="$data" VITRINE_DEMO_DATA=false RUST_LOG=warn \
  VITRINE_ADMIN_EMAIL=admin@bench.example VITRINE_ADMIN_PASSWORD=bench-admin-password \
  "$bin" >"$log" 2>&1 &
server=$!
cleanup() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT

for _ in $(seq 1 150); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "http://127.0.0.1:$port/health" >/dev/null || { echo "server did not start; log:" >&2; cat "$log" >&2; exit 1; }

echo "binary: $bin ($profile), $(nproc) cores, $(date -u +%FT%TZ)"
python3 bench/latency.py --base "http://127.0.0.1:$port" --updates "$updates" \
  --admin-email admin@bench.example --admin-password bench-admin-password
