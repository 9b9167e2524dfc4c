# Vitrine — two commands for a fresh machine:
#   make run    installs what is missing, builds, serves the shop with demo data
#   make test   installs what is missing, runs lint, unit, integration and browser tests
#
# One cargo target dir, shared by every run on this machine, keeps warm builds
# warm; the server and the WASM are built once per run by cargo-leptos, and the
# tests and clippy reuse that build by compiling with the same flags.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export CARGO_TARGET_DIR ?= $(HOME)/.cache/vitrine/target
export VITRINE_TOOLS ?= $(HOME)/.cache/vitrine/tools
export PATH := $(VITRINE_TOOLS)/bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_TERM_COLOR ?= never

# What cargo-leptos sets when it builds the server in debug mode: the same
# values here let `cargo test` and `cargo clippy` reuse that build instead of
# recompiling ~500 crates (RUSTFLAGS and LEPTOS_OUTPUT_NAME are part of every
# crate's fingerprint).
LEPTOS_BUILD_ENV := RUSTFLAGS="--cfg erase_components" LEPTOS_OUTPUT_NAME=vitrine
SERVER_BIN := $(CARGO_TARGET_DIR)/debug/vitrine

VITRINE_ADDR ?= 127.0.0.1:3000
VITRINE_DATA_DIR ?= ./data

.PHONY: help tools tools-e2e build build-release run run-release watch test lint test-rust test-crash test-e2e bench-latency bench-orders bench-orders-steady bench-rebuild bench-reads bench-bundle clean-data

help:
	@echo "make run     build and serve the shop with demo data on $(VITRINE_ADDR) (VITRINE_ADDR, VITRINE_DATA_DIR)"
	@echo "make test    lint + unit + integration + Playwright tests"
	@echo "make bench-latency   command → read record / SSE latency over 300 updates"
	@echo "make bench-orders    PlaceOrder throughput and latency, 64 concurrent clients"
	@echo "make bench-orders-steady   command -> visible latency at 300 and 500 orders/s (open loop)"
	@echo "make bench-rebuild   rebuild a read model from 1,000,000 events under live traffic"
	@echo "make bench-reads     read ratios: JSON and SSR reads vs static responses, CQRS read vs write-model join, search at 100k products"
	@echo "make bench-bundle    the release WASM bundle's size, gzipped"

tools:
	scripts/install-tools.sh

tools-e2e:
	scripts/install-tools.sh --e2e

build: tools
	cargo leptos build --split

run: build
	VITRINE_ADDR=$(VITRINE_ADDR) VITRINE_DATA_DIR=$(VITRINE_DATA_DIR) $(SERVER_BIN)

build-release: tools
	cargo leptos build --release --split

run-release: build-release
	VITRINE_ADDR=$(VITRINE_ADDR) VITRINE_DATA_DIR=$(VITRINE_DATA_DIR) $(CARGO_TARGET_DIR)/release/vitrine

watch: tools
	cargo leptos watch --split

test: tools-e2e build lint test-rust test-e2e

lint:
	cargo fmt --all -- --check
	$(LEPTOS_BUILD_ENV) cargo clippy -p domain -p app -p server --all-targets --features app/ssr -- -D warnings
	$(LEPTOS_BUILD_ENV) cargo clippy -p frontend --target wasm32-unknown-unknown -- -D warnings

# Unit tests (domain, app, server) and the integration tests in server/tests,
# against a real nats-server and embedded SurrealDB. One invocation, so the
# three packages share the server build's feature set.
test-rust:
	$(LEPTOS_BUILD_ENV) cargo test -p domain -p app -p server --features app/ssr

# The crash test alone, with its progress (test-rust runs it too): 5,000+
# orders while the server is SIGKILLed 20+ times and nats-server 3+ times.
# VITRINE_CRASH_SEED repeats a run's choices.
test-crash:
	$(LEPTOS_BUILD_ENV) cargo test -p server --features app/ssr --test crash -- --nocapture

test-e2e:
	cd end2end && VITRINE_SERVER_BIN=$(SERVER_BIN) npx playwright test

# Release build: speed is measured on what a shop would run.
bench-latency: build-release
	scripts/bench-latency.sh release 300

bench-orders: build-release
	scripts/bench-orders.sh release 64 20

# Command -> visible at a steady rate (open loop): 300 and 500 orders/s.
bench-orders-steady: build-release
	scripts/bench-orders.sh release 128 20 300
	scripts/bench-orders.sh release 128 20 500

# A read model rebuilt from 1,000,000 synthetic events while traffic goes on
# (BENCH_EVENTS to change the size).
# (cargo-leptos sets no RUSTFLAGS for release builds: this reuses its build.)
bench-rebuild: build-release
	LEPTOS_OUTPUT_NAME=vitrine cargo run --release -p server --example bench-rebuild -- --events $${BENCH_EVENTS:-1000000}

bench-reads: tools
	LEPTOS_OUTPUT_NAME=vitrine cargo run --release -p server --example bench-reads -- --seconds $${BENCH_SECONDS:-10} --clients $${BENCH_CLIENTS:-32}

bench-bundle: tools
	cargo leptos build --release --split --frontend-only
	scripts/bundle-size.sh target/site/pkg

clean-data:
	rm -rf $(VITRINE_DATA_DIR)
