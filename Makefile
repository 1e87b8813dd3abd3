# `make demo` and `make test` work on a fresh clone: they create .venv and install what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
JOBS ?= 2

.PHONY: demo test lint docs bench sample-data clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# An editable install leaves the package's bytecode uncompiled, and with PYTHONDONTWRITEBYTECODE
# set every `audioaug` process (the tests start hundreds) would compile it again: compiled here,
# as a wheel's install does. Python checks each .pyc against its source, so edits still count.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q audioaug_cli
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q audioaug_cli
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	rm -rf out/demo
	$(BIN)/audioaug run configs/example.yaml sample_data out/demo -j $(JOBS)
	@echo "manifest: out/demo/manifest.csv"

test: $(VENV)/.installed-dev lint
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The site, into site/ (its pages are docs/*.md; the reference is generated from the code).
docs: $(VENV)/.installed-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/bench.py

sample-data: $(VENV)/.installed
	$(BIN)/python scripts/make_sample_data.py sample_data

clean:
	rm -rf $(VENV) out site .pytest_cache .mypy_cache .ruff_cache
