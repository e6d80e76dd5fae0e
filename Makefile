# Patron's everyday commands. `make help` lists them.

CARGO ?= cargo
NPM ?= npm
BUF := node_modules/.bin/buf
PORT ?= 50051
PYTHON ?= python3
DOCKER ?= docker
IMAGE ?= patron
TAG ?= dev
# The manifest checks' own virtual environment (kubernetes-validate from PyPI, at install time only).
K8S_VENV := .venv-k8s
K8S_CHECK := $(K8S_VENV)/bin/python -m unittest discover --start-directory tests/k8s -v
# The Python client's virtual environment: pinned requirements, then the
# package itself (its gRPC stubs are generated from proto/ when it is built).
PY_VENV := .venv-py
PY_CLIENT := clients/python
PY_TEST := $(PY_VENV)/bin/python -m pytest $(PY_CLIENT)/tests

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  make %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: ## Build release binaries, run the whole suite locally on SQLite with demo data (Ctrl-C stops it)
	$(CARGO) build --release --workspace --bins
	./target/release/patron up --port $(PORT) --demo

.PHONY: build
build: ## Build every crate in debug mode
	$(CARGO) build --workspace --all-targets

.PHONY: test
test: postgres lint-rust lint-proto $(K8S_VENV)/installed $(PY_VENV)/installed ## The full suite: fmt, clippy, buf lint, Kubernetes manifests, unit, per-service, storage (SQLite + PostgreSQL), cross-service and Python client tests
	$(CARGO) build --workspace --bins
	$(K8S_CHECK)
	$(PY_TEST)
	./scripts/cargo-test.sh

.PHONY: postgres
postgres: ## Make sure PostgreSQL answers on 127.0.0.1:5432 (starts the local cluster if needed)
	./scripts/ensure-postgres.sh

.PHONY: lint
lint: lint-proto lint-rust lint-k8s ## buf lint, rustfmt, clippy, and every Kubernetes overlay and component combination rendered and validated

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

.PHONY: lint-k8s
lint-k8s: $(K8S_VENV)/installed ## Render k8s/ (every overlay, every component combination), validate against Kubernetes 1.30 (strict), check the policies
	@command -v kubectl >/dev/null || { echo "kubectl is absent: install it (it carries kustomize) to check k8s/" >&2; exit 1; }
	$(K8S_CHECK)

$(K8S_VENV)/installed: tests/k8s/requirements.txt
	$(PYTHON) -m venv $(K8S_VENV)
	$(K8S_VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/k8s/requirements.txt
	@touch $@

.PHONY: test-python
test-python: $(PY_VENV)/installed ## The Python client's tests (pytest) against a suite started from the debug binaries
	$(CARGO) build --workspace --bins
	$(PY_TEST)

# Rebuilt only when the requirements, the package or the protos change.
$(PY_VENV)/installed: $(PY_CLIENT)/requirements.txt $(PY_CLIENT)/pyproject.toml $(PY_CLIENT)/setup.py $(wildcard $(PY_CLIENT)/src/patron/*.py) $(wildcard proto/patron/*/v1/*.proto)
	$(PYTHON) -m venv $(PY_VENV)
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(PY_CLIENT)/requirements.txt
	$(PY_VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall ./$(PY_CLIENT)
	@touch $@

.PHONY: images
images: ## Build the container image holding every binary: IMAGE=patron TAG=dev by default
	@$(DOCKER) info >/dev/null 2>&1 || { echo "no Docker daemon answers: start one to build images" >&2; exit 1; }
	$(DOCKER) build --tag $(IMAGE):$(TAG) .

.PHONY: bench
bench: ## Benchmarks on release binaries; prints a results table
	$(CARGO) build --release --workspace --bins
	./target/release/patron-bench
	$(CARGO) run --release -p patron-churn --example btyd_bench
	$(CARGO) run --release -p patron-churn --example churn_service_bench
	$(CARGO) run --release -p patron-forecast --example forecast_bench
	$(CARGO) run --release -p patron-segmentation --example kmeans_bench
	$(CARGO) run --release -p patron-segmentation --example assign_bench

# Fuzzing: each target runs FUZZ_RUNS executions (libFuzzer's -runs), on nightly. One allocation over
# 512 MB is a failure too: no request may make a service allocate that much.
FUZZ_TARGETS := profile_requests segmentation_requests forecast_requests churn_requests csv_import
FUZZ_RUNS ?= 1000000

.PHONY: fuzz
fuzz: ## Fuzz the services' request decoders and validators and the CSV import parser (nightly; FUZZ_RUNS=1000000 per target)
	@rustup toolchain list | grep -q '^nightly' || { echo "make fuzz needs the nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
	@command -v cargo-fuzz >/dev/null || $(CARGO) install --locked cargo-fuzz
	$(CARGO) +nightly fuzz build
	@for target in $(FUZZ_TARGETS); do \
		echo "== fuzz $$target ($(FUZZ_RUNS) runs)"; \
		$(CARGO) +nightly fuzz run $$target -- -runs=$(FUZZ_RUNS) -max_len=8192 -timeout=10 -malloc_limit_mb=512 -print_final_stats=1 || exit 1; \
	done

.PHONY: fmt
fmt: ## Format the code
	$(CARGO) fmt --all

.PHONY: clean
clean: ## Remove build output and local data
	$(CARGO) clean
	rm -rf data node_modules $(K8S_VENV) $(PY_VENV)
