# Patron's everyday commands. `make help` lists them.

CARGO ?= cargo
NPM ?= npm
BUF := node_modules/.bin/buf
PORT ?= 50051

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Build release binaries, run the whole suite locally on SQLite with demo data (Ctrl-C stops it)
	$(CARGO) build --release --workspace --bins
	./target/release/patron up --port $(PORT) --demo

.PHONY: build
build: ## Build every crate in debug mode
	$(CARGO) build --workspace --all-targets

.PHONY: test
test: postgres lint-rust lint-proto ## The full suite: fmt, clippy, buf lint, unit, per-service, storage (SQLite + PostgreSQL) and cross-service tests
	$(CARGO) build --workspace --bins
	./scripts/cargo-test.sh

.PHONY: postgres
postgres: ## Make sure PostgreSQL answers on 127.0.0.1:5432 (starts the local cluster if needed)
	./scripts/ensure-postgres.sh

.PHONY: lint
lint: lint-proto lint-rust ## buf lint, rustfmt and clippy

.PHONY: lint-rust
lint-rust:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

.PHONY: lint-proto
lint-proto: $(BUF)
	cd proto && ../$(BUF) lint

$(BUF): package.json package-lock.json
	$(NPM) install --no-audit --no-fund --loglevel=error
	@touch $(BUF)

.PHONY: bench
bench: ## Benchmarks on release binaries; prints a results table
	$(CARGO) build --release --workspace --bins
	./target/release/patron-bench
	$(CARGO) run --release -p patron-churn --example btyd_bench
	$(CARGO) run --release -p patron-segmentation --example kmeans_bench

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: clean
clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data node_modules
