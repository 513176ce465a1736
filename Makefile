# The two quick-start commands (see README.md): `make demo` and `make test`.
# Each creates .venv on first use from pyproject.toml; nothing else is installed by hand.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: demo serve test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@ $(VENV)/.installed-base

demo: $(VENV)/.installed-base
	$(BIN)/icp compile profiles -o build/profiles.icpb
	$(BIN)/icp test build/profiles.icpb
	$(BIN)/icp score examples/data/visitors.csv -o build/visitors.scored.csv --profiles build/profiles.icpb
	$(BIN)/icp score examples/data/sp500.csv --mapping examples/mappings/sp500.yaml -o build/sp500.scored.csv --profiles build/profiles.icpb
	$(BIN)/icp explain --profiles build/profiles.icpb industry=software employees=1001-5000 country=Germany tech_stack=salesforce,hubspot buying_triggers=rfp-open

serve: $(VENV)/.installed-base
	$(BIN)/icp serve

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-dev
	$(BIN)/python -m benchmarks kernel

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache
