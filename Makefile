# The two set-up commands of the README: `make demo` and `make test`.
# torch is pinned here (not in pyproject.toml): 2.13.0 is the CPU wheel these
# machines carry; any other spec downloads gigabytes of CUDA packages.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0

.PHONY: setup demo test test-slow clean

$(VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,demo,codec]"
	touch $@

setup: $(VENV)/.installed

demo: setup
	$(VENV)/bin/pixelar quickstart --out runs/quickstart

test: setup
	$(VENV)/bin/ruff check src tests benchmarks
	$(PY) -m pytest -q -n 2 tests

test-slow: setup
	$(PY) -m pytest -q -n 2 --dist loadgroup -m slow tests

clean:
	rm -rf $(VENV) runs
