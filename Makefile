# l2c — the two commands that matter: `make demo` and `make test`.
# Everything installs itself into .venv from the hashed lock file; only python3.11 and make are
# needed on the machine.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
# The environment sets PYTHONDONTWRITEBYTECODE=1; without compiled bytecode `import airflow`
# takes twice as long, in every task of every run.
export UV_COMPILE_BYTECODE := 1

.PHONY: help install demo test test-fast test-integration lint fix-sql contracts lock bench clean-data

help:
	@echo "make demo             - build .venv, generate demo exports, run the nightly DAG through Airflow, print results"
	@echo "make test             - build .venv and run the whole test suite, every lane (CI: .ci/run = lint + test)"
	@echo "make test-fast        - the unit tests: no dbt build, Airflow or PostgreSQL (under 2 minutes)"
	@echo "make test-integration - only the tests that build dbt, run Airflow or need PostgreSQL"
	@echo "                        (lanes are pytest markers; tests/conftest.py classifies every test module)"
	@echo "make lint             - ruff check, ruff format --check, Airflow 3 rules, sqlfluff on dbt_project/"
	@echo "make fix-sql          - sqlfluff fix on dbt_project/ (models and singular tests, see .sqlfluffignore)"
	@echo "make contracts        - regenerate the dbt source types, fixture macro and GX suites from plugins/l2c/schema.py"
	@echo "make lock             - re-resolve requirements.lock (image) and requirements-dev.lock (hashes, no URLs)"
	@echo "make bench            - benchmarks (bench/README.md): loader vs plain DuckDB read_csv on 1M rows, then"
	@echo "                        the funnel marts on a 200,000-lead world (fails if the median exceeds 60 s)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

# requirements-dev.lock = the runtime lock (requirements.lock, all the production image installs)
# plus the `dev` extra: demo, tests, linters. Two editable packages: l2c (plugins/) and l2c-dev (dev/).
$(VENV)/.installed: requirements-dev.lock pyproject.toml dev/pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . -e dev
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/l2c-dev demo run

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not integration"

test-integration: install
	$(BIN)/python -m pytest -m integration

# sqlfluff renders every model through dbt (templater dbt, .sqlfluff). The profile reads its paths
# from the environment: an in-memory DuckDB (nothing is built or read) and a raw zone that is only
# written into the sources' read_parquet() text. dbt's output goes to dbt_project/target/sqlfluff,
# so the manifest the DAG renders from (dbt_project/target/manifest.json) is left alone.
SQLFLUFF := L2C_BUILD_WAREHOUSE=:memory: L2C_RAW_DIR=data/raw DBT_TARGET_PATH=target/sqlfluff $(BIN)/sqlfluff
PY_SOURCES := plugins dev dags tests bench expectations

lint: install
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(BIN)/ruff check --select AIR3 dags
	$(SQLFLUFF) lint dbt_project
	$(BIN)/l2c-dev contracts --check

# After a change to plugins/l2c/schema.py: rewrite every file generated from it (commit the result).
contracts: install
	$(BIN)/l2c-dev contracts

fix-sql: install
	$(SQLFLUFF) fix dbt_project

# The dev lock is resolved first; the runtime lock is resolved under it as a constraint, so every
# package the image installs has the same version the tests ran with (tests/test_layout.py checks).
LOCK_FLAGS := --generate-hashes --universal --python-version 3.11 --quiet
lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements-dev.lock
	$(BIN)/uv pip compile pyproject.toml -c requirements-dev.lock $(LOCK_FLAGS) -o requirements.lock

# Benchmarks, not tests: work data under data/bench/ (reused between runs; pass --fresh through
# BENCH_MARTS_ARGS / BENCH_LOADER_ARGS to rebuild it). The loader bench only reports (exit 0); the
# marts bench, run last, fails when the median funnel build exceeds its target.
BENCH_MARTS_ARGS  ?=
BENCH_LOADER_ARGS ?=

bench: install
	$(BIN)/python bench/bench_loader.py $(BENCH_LOADER_ARGS)
	$(BIN)/python bench/bench_marts.py $(BENCH_MARTS_ARGS)

clean-data:
	rm -rf data
