# The two commands a newcomer needs: `make demo` and `make test`. Both bootstrap .venv and
# the database when needed; a second run skips what is already there.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DO_NOT_TRACK := 1
export DAGSTER_DISABLE_TELEMETRY := 1
export GX_ANALYTICS_ENABLED := false
export PYTHONHASHSEED := 0

.PHONY: help venv db demo test test-py dbt-build lint bench bench-load bench-quant bench-surfaces bench-risk clean ui

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)  ## create .venv with the project installed

db: venv  ## install/start PostgreSQL 17 + TimescaleDB + pgvector + PL/Python, migrate, grant
	$(BIN)/warehouse db up

demo: db  ## simulate a market, load it (and the real samples), build, summarise
	$(BIN)/warehouse demo

test: db  ## pytest against the running warehouse (includes `dbt build` of staging, in tests/)
	$(BIN)/python -m pytest -m "not slow" -q

UI_PORT ?= 3000

ui: db  ## Dagster UI (dagster dev) on http://127.0.0.1:$(UI_PORT) with the code location
	DAGSTER_HOME="$$($(BIN)/python -m orchestration.instance)" \
	  $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p $(UI_PORT)

lint: venv  ## ruff + sqlfluff
	$(BIN)/ruff check .
	$(BIN)/sqlfluff lint models macros data-tests

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): pyproject.toml $(STAMP)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev,bench]'
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP) bench-load bench-quant bench-surfaces  ## all benchmarks (not part of make test)

bench-load: db  ## load the reference day and compare with plain COPY
	$(BIN)/python -m bench.bench_load

bench-quant: db $(BENCH_STAMP)  ## IV + greeks in the database (batched UDFs) vs py_vollib_vectorized
	$(BIN)/python -m bench.bench_quant

bench-risk: db  ## risk kernels (MC VaR, full revaluation) + the 1,000-option book in the database
	$(BIN)/python -m bench.bench_risk
	$(BIN)/python -m bench.bench_risk_engine

bench-surfaces: db $(BENCH_STAMP)  ## SVI/SABR per slice and Heston calibration (vs QuantLib)
	$(BIN)/python -m bench.bench_surfaces $(BENCH_ARGS)

clean:  ## remove the venv and scratch data (the database is kept: `warehouse db down` stops it)
	rm -rf $(VENV) var target logs
