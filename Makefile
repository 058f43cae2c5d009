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

.PHONY: help install demo test lint lock clean-data

help:
	@echo "make demo   - build .venv, generate demo exports, run the nightly DAG through Airflow, print results"
	@echo "make test   - build .venv and run the whole test suite"
	@echo "make lint   - ruff (incl. Airflow 3 rules)"
	@echo "make lock   - re-resolve requirements.lock from pyproject.toml (hashes, no URLs)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.installed: requirements.lock pyproject.toml | $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python --require-hashes -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/l2c demo run

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check plugins dags tests
	$(BIN)/ruff check --select AIR3 dags

lock: | $(BIN)/uv
	$(BIN)/uv pip compile pyproject.toml --extra dev --generate-hashes --universal \
		--python-version 3.11 --quiet -o requirements.lock

clean-data:
	rm -rf data
