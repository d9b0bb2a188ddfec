# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export TF_CPP_MIN_LOG_LEVEL ?= 3
export PYTHONWARNINGS ?= ignore::UserWarning:google.protobuf.runtime_version

.PHONY: run test test-slow install install-test lint typecheck bench clean

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "whynet needs Python 3.11 or newer; set PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e . 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c 'import whynet, optuna, mlflow; from whynet.trainers._backend import import_keras; import_keras()' || (echo "install failed"; exit 1)
	@touch $@

$(VENV)/.installed-test: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[test]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c 'import pytest, ruff, mypy, hypothesis' || (echo "test install failed"; exit 1)
	@touch $@

$(VENV)/.installed-bench: $(VENV)/.installed pyproject.toml
	$(PIP) install -e '.[bench]' 2>&1 | grep -v "^WARNING: Location" || true
	@$(PY) -c 'import keras_tuner, optuna_integration, psutil' || (echo "bench install failed"; exit 1)
	@touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## make run: install, then run the quick-start search on the built-in digits data.
run: install
	$(VENV)/bin/whynet run examples/quickstart.yaml

lint: install-test
	$(VENV)/bin/ruff check whynet tests benchmarks

typecheck: install-test
	$(VENV)/bin/mypy

## make test: install the test extras, lint, type-check and run the test suite.
test: lint typecheck
	$(PY) -m pytest -q $(PYTEST_ARGS)

## make test-slow: the fault tests that take minutes (killed processes, a stopped
## MLflow server, 8 workers on one storage); .ci/run runs them after `make test`.
test-slow: install-test
	$(PY) -m pytest -q -m slow $(PYTEST_ARGS)

## make bench: install the benchmark extra, run the whole benchmark harness and
## render docs/benchmarks.md (about an hour on 2 cores; BENCH_ARGS=--quick for minutes).
bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks run $(BENCH_ARGS)

clean:
	rm -rf whynet.journal whynet.journal.lock mlflow.db mlruns mlartifacts whynet-runs
