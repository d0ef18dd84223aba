# skyfence: everything installs itself on a fresh Debian machine with python3 and make.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml scripts/system-deps.sh | cksum | cut -d' ' -f1)
EXTRAS ?= dev,interop,signal,share,bench,ray
PYTEST_ARGS ?=

.PHONY: help venv system-deps test lint typecheck pytest demo bench fuzz clean

help:
	@echo "make demo   - set up, run the flagship border exercise, print a scorecard, write a report"
	@echo "make test   - lint, type-check and run the whole test suite"
	@echo "make bench  - run the benchmarks (one JSON line each)"
	@echo "make fuzz   - long hypothesis fuzzing of every decoder and parser"

$(STAMP): pyproject.toml scripts/system-deps.sh
	@bash scripts/system-deps.sh
	@test -x $(PY) || python3 -m venv $(VENV) || { bash scripts/system-deps.sh venv && python3 -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$(EXTRAS)]'
	@rm -f $(VENV)/.installed-*
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy --strict src

pytest: $(STAMP)
	$(PY) -m pytest -n auto --dist loadgroup $(PYTEST_ARGS)

test: lint typecheck pytest

demo: $(STAMP)
	$(PY) -m skyfence.demo

bench: $(STAMP)
	@for b in bench/*.py; do echo "# $$b" >&2; $(PY) $$b || exit 1; done

fuzz: $(STAMP)
	SKYFENCE_FUZZ_EXAMPLES=100000 $(PY) -m pytest -m fuzz -n auto -p no:randomly $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info src/*.egg-info
