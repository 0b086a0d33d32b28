# shopguard — `make help` lists the targets. `make demo` and `make test` build the environment first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DATA_DIR ?= $(or $(SHOPGUARD_DATA_DIR),data)
MLFLOW_PORT ?= 5000
PREFECT_PORT ?= 4200
PG_PORT ?= 5433
DASK_PORT ?= 8786
DASK_DASHBOARD_PORT ?= 8787
DASK_WORKERS ?= 2

.PHONY: help setup demo test test-fast lint browser-deps bench-generate bench-validate bench-features bench-models bench-detect bench-detect-labels bench-train bench-scoring bench-cli bench-scale mlflow-ui up down up-lite down-lite clean

help: ## Show this help
	@echo "targets:"
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST) \
	  | sed -e 's|$$(MLFLOW_PORT)|$(MLFLOW_PORT)|g' -e 's|$$(PREFECT_PORT)|$(PREFECT_PORT)|g' -e 's|$$(DATA_DIR)|$(DATA_DIR)|g'
	@echo "variables (override as make VAR=value):"
	@printf "  %-16s %s\n" DATA_DIR "$(DATA_DIR)" MLFLOW_PORT "$(MLFLOW_PORT)" PREFECT_PORT "$(PREFECT_PORT)" \
	  PG_PORT "$(PG_PORT)" DASK_PORT "$(DASK_PORT)" DASK_DASHBOARD_PORT "$(DASK_DASHBOARD_PORT)" \
	  DASK_WORKERS "$(DASK_WORKERS)" PYTHON "$(PYTHON)" VENV "$(VENV)"

$(STAMP): pyproject.toml
	@echo "==> creating $(VENV) and installing shopguard (a few minutes on a fresh machine)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
	set -o pipefail; $(BIN)/pip install -q -e '.[dev]' 2>&1 | { grep -v -e "^WARNING: Location" -e "BuildBackendWarning" || true; }
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv and install shopguard with its dev tools

demo: setup ## Run the whole life cycle on a synthetic world in $(DATA_DIR), replacing an earlier demo's (about 3 minutes)
	$(BIN)/shopguard --data-dir $(DATA_DIR) demo --fresh

browser-deps: ## Install headless Chromium + chromedriver (Debian) for the MLflow UI test
	@if ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "==> installing chromium and chromium-driver"; \
	  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

test: setup browser-deps ## Run the full test suite on two workers (pytest-xdist, whole files each; slowest 25 listed)
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=25

test-fast: setup ## Run the tests not marked slow or browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow and not browser"

lint: setup ## Ruff over the code
	$(BIN)/ruff check flows tasks models tests benchmarks infra

bench-generate: setup ## Benchmark: a 5k-user x 14-day world and a streamed 10M-event day
	$(BIN)/python -m benchmarks.bench_generate

bench-validate: setup ## Benchmark: validate a 10M-event day, in-process and as the `shopguard validate` command
	$(BIN)/python -m benchmarks.bench_validate --rows 10000000 --users 300000 --cli

bench-features: setup ## Benchmark: features of a 10M-event day (build and `shopguard features`) vs a DuckDB query
	$(BIN)/python -m benchmarks.bench_features --cli

bench-models: setup ## Benchmark: score 1M rows x 40 features with the deployed detector
	$(BIN)/python -m benchmarks.bench_models

bench-detect: setup ## Benchmark: label-free detection on the 20 ADBench dev sets beside PyOD ECOD/IForest/KNN
	$(BIN)/python -m benchmarks.bench_detect

bench-detect-labels: setup ## Benchmark: label-aware row (xgbod) beside HistGradientBoosting alone on the 20 ADBench dev sets
	$(BIN)/python -m benchmarks.bench_detect_labels

bench-train: setup ## Benchmark: a 6-trial retrain (sweep, registration, gate) on 20k user-days
	$(BIN)/python -m benchmarks.bench_train

bench-scoring: setup ## Benchmark: score, explain and drift-report 50k user-days
	$(BIN)/python -m benchmarks.bench_scoring

bench-cli: setup ## Benchmark: fixed cost of one command (validate, features) on a small day
	$(BIN)/python -m benchmarks.bench_cli

bench-scale: setup ## Benchmark: features + scoring of 1M/10M/30M-event days in-process vs sharded on a 2-worker local Dask cluster
	$(BIN)/python -m benchmarks.bench_scale

mlflow-ui: setup ## Serve the MLflow UI on http://127.0.0.1:$(MLFLOW_PORT) over the data root's store
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(abspath $(DATA_DIR))/mlflow/mlflow.db \
	  --default-artifact-root $(abspath $(DATA_DIR))/mlflow/artifacts --host 127.0.0.1 --port $(MLFLOW_PORT)

up: setup ## Start the stack on 127.0.0.1: Postgres, MLflow, Prefect + worker + deployments, Dask (env in $(DATA_DIR)/stack/env)
	$(BIN)/python -m infra.stack up --data-dir $(DATA_DIR) --postgres-port $(PG_PORT) --mlflow-port $(MLFLOW_PORT) \
	  --prefect-port $(PREFECT_PORT) --dask-port $(DASK_PORT) --dask-dashboard-port $(DASK_DASHBOARD_PORT) \
	  --dask-workers $(DASK_WORKERS)

down: ## Stop what `make up` started (by pid, checked) and Postgres; the data stays
	$(BIN)/python -m infra.stack down --data-dir $(DATA_DIR)

up-lite: setup ## Only Prefect (port $(PREFECT_PORT)) and MLflow (port $(MLFLOW_PORT)) on sqlite stores, no Postgres/workers/Dask
	$(BIN)/python -m infra.servers up --data-dir $(DATA_DIR) --prefect-port $(PREFECT_PORT) --mlflow-port $(MLFLOW_PORT)

down-lite: ## Stop the servers started by `make up-lite`
	$(BIN)/python -m infra.servers down --data-dir $(DATA_DIR)

clean: ## Remove the data root $(DATA_DIR) (generated data, runs, reports)
	rm -rf $(DATA_DIR)
