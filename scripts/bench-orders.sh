#!/usr/bin/env bash
# PlaceOrder throughput and latency over the JSON API, on a fresh shop (its
# own data directory and nats-server, demo data off, every setting at its
# default: SurrealKV syncs every commit, JetStream fsyncs every message).
# Usage: scripts/bench-orders.sh [release|debug] [concurrency] [seconds] [rate]
# (rate: orders per second, open-loop; 0 or absent: closed loop)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${VITRINE_TOOLS:-$HOME/.cache/vitrine/tools}/bin:$PATH"
profile=${1:-release}
concurrency=${2:-64}
seconds=${3:-20}
rate=${4:-0}
target=${CARGO_TARGET_DIR:-$HOME/.cache/vitrine/target}
bin="$target/$profile/vitrine"
[ -x "$bin" ] || { echo "no $bin: build it first (make build-release)" >&2; exit 2; }

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
data=$(mktemp -d /tmp/vitrine-bench-XXXXXX)
log="$data/server.log"
# BENCH_ENV: extra NAME=value settings for the server (to compare settings).
# shellcheck disable=SC2086
env VITRINE_ADDR="127.0.0.1:$port" VITRINE_DATA_DIR="$data" VITRINE_DEMO_DATA=false RUST_LOG=warn \
  VITRINE_ADMIN_EMAIL=admin@bench.example VITRINE_ADMIN_PASSWORD=bench-admin-password ${BENCH_ENV:-} \
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
python3 bench/orders.py --base "http://127.0.0.1:$port" --concurrency "$concurrency" --seconds "$seconds" --rate "$rate" \
  --admin-email admin@bench.example --admin-password bench-admin-password
