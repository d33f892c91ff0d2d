# Consentry: `make run` starts the local stack, `make test` proves what CI proves.
# Bootstraps its own virtualenvs; needs nothing but python3 (>= 3.11) to start, and
# python3.13 (the Lambda runtime, via pyenv or on PATH) for `sam build`.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
# `make test` runs its steps in the order given, cheapest first, even under -j.
.NOTPARALLEL:

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
VENV_STAMP := $(VENV)/.installed

# SAM CLI and its cfn-lint live apart from the dev venv: their pins clash with ours.
# cfn-lint takes the version the dev extra pins, so both runs lint with one version.
SAM_CLI_VERSION := 1.170.0
CFN_LINT_VERSION := $(shell sed -n 's/.*"cfn-lint==\([^"]*\)".*/\1/p' pyproject.toml)
SAM_VENV := .venv-sam
SAM_STAMP := $(SAM_VENV)/.installed-$(SAM_CLI_VERSION)-$(CFN_LINT_VERSION)
export SAM_CLI_TELEMETRY := 0

# `sam build` runs pip under the functions' runtime, python3.13: take it from pyenv
# when pyenv has one, else python3.13 must already be on PATH. Set for SAM alone, so
# that python3 elsewhere stays the dev interpreter.
PYENV_PY313 = $(shell command -v pyenv >/dev/null 2>&1 && pyenv versions --bare | grep -E '^3\.13\.[0-9]+$$' | tail -n 1)
SAM_ENV = $(if $(PYENV_PY313),PATH="$$(pyenv root)/shims:$$PATH" PYENV_VERSION=$(PYENV_PY313))
NEED_PY313 = @$(SAM_ENV) python3.13 -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null || { \
	echo "$@ needs python3.13 (the functions' runtime): pyenv install 3.13, or put python3.13 on PATH" >&2; \
	exit 1; }

# The functions' runtime: python3.13 with functions/requirements.txt, to load the
# handlers where they run (the dev venv's interpreter may be older); and the dev
# extra on the same interpreter, to run the unit tests there.
RUNTIME_VENV := .venv-runtime
RUNTIME_STAMP := $(RUNTIME_VENV)/.installed
RUNTIME_TESTS_VENV := .venv-runtime-tests
RUNTIME_TESTS_STAMP := $(RUNTIME_TESTS_VENV)/.installed

BUILD_DIR := .aws-sam/build

ARGS ?=
PYTEST_ARGS ?=

.PHONY: help run test requirements requirements-check lint format typecheck pytest openapi \
	messages runtime-check sam-check build browser-deps bench clean distclean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(SAM_STAMP):
	@test -n "$(CFN_LINT_VERSION)" || { echo "no cfn-lint==X pin found in pyproject.toml" >&2; exit 1; }
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet 'aws-sam-cli==$(SAM_CLI_VERSION)' 'cfn-lint==$(CFN_LINT_VERSION)'
	touch $@

$(RUNTIME_STAMP): functions/requirements.txt
	$(NEED_PY313)
	rm -rf $(RUNTIME_VENV)
	$(SAM_ENV) python3.13 -m venv $(RUNTIME_VENV)
	$(RUNTIME_VENV)/bin/pip install --quiet -r functions/requirements.txt
	touch $@

$(RUNTIME_TESTS_STAMP): pyproject.toml
	$(NEED_PY313)
	rm -rf $(RUNTIME_TESTS_VENV)
	$(SAM_ENV) python3.13 -m venv $(RUNTIME_TESTS_VENV)
	$(RUNTIME_TESTS_VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV_STAMP) ## start the local stack (pass options with ARGS="...")
	$(BIN)/python -m infra.local $(ARGS)

test: requirements-check lint typecheck runtime-check browser-deps pytest sam-check ## everything CI proves, in order

openapi: $(VENV_STAMP) ## regenerate docs/openapi.json from the operator API's routes
	$(BIN)/python scripts/openapi.py

messages: $(VENV_STAMP) ## update the pages' gettext catalogs from the templates, compile them
	$(BIN)/python scripts/i18n.py

requirements: ## regenerate functions/requirements.txt from pyproject.toml
	$(PYTHON) scripts/requirements.py

requirements-check: ## fail when functions/requirements.txt differs from pyproject.toml
	$(PYTHON) scripts/requirements.py --check

lint: $(VENV_STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV_STAMP) ## apply ruff's formatting and safe fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: $(VENV_STAMP) ## mypy, strict, over the whole tree
	$(BIN)/mypy functions cli/consentry_cli infra bench tests scripts

browser-deps: ## Debian's Chromium and fonts for the browser suite, installed when missing
	scripts/browser-deps.sh

pytest: $(VENV_STAMP) ## unit, integration, contract, stack and browser tests, with branch coverage
	$(BIN)/pytest --cov --cov-report=term-missing --durations=25 $(PYTEST_ARGS)

runtime-check: $(VENV_STAMP) $(RUNTIME_STAMP) $(RUNTIME_TESTS_STAMP) ## the handlers load, and the unit tests pass, on the functions' runtime
	$(BIN)/python -m infra.runtime --python $(RUNTIME_VENV)/bin/python
	$(RUNTIME_TESTS_VENV)/bin/pytest -q -p no:cacheprovider tests/unit

sam-check: $(SAM_STAMP) $(RUNTIME_STAMP) ## sam validate --lint, cfn-lint, then `make build`
	$(NEED_PY313)
	$(SAM_ENV) $(SAM_VENV)/bin/sam validate --lint
	$(SAM_VENV)/bin/cfn-lint template.yaml
	$(MAKE) --no-print-directory build

# sam build ships source only, and Lambda's /var/task is read-only: without bytecode
# compiled here, every cold start compiles every module it imports (infra/bytecode.py,
# standard library only, so the runtime's interpreter runs it).
build: $(SAM_STAMP) $(RUNTIME_STAMP) ## sam build (no container), then the runtime's bytecode into every function, checked
	$(NEED_PY313)
	$(SAM_ENV) $(SAM_VENV)/bin/sam build
	$(RUNTIME_VENV)/bin/python -m infra.bytecode compile $(BUILD_DIR) --python $(RUNTIME_VENV)/bin/python
	$(RUNTIME_VENV)/bin/python -m infra.bytecode check $(BUILD_DIR) --python $(RUNTIME_VENV)/bin/python

bench: $(VENV_STAMP) $(RUNTIME_STAMP) ## run every benchmark in bench/ (as modules, so they import infra/)
	@for script in bench/*.py; do \
		module=$${script%.py}; module=$${module//\//.}; \
		echo "# $$module"; \
		$(BIN)/python -m "$$module"; \
	done

clean: ## remove build output, coverage data and tool caches (keeps the venvs)
	rm -rf .aws-sam .coverage coverage.xml htmlcov .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -path ./$(VENV) -prune -o -path ./$(SAM_VENV) -prune -o -path ./$(RUNTIME_VENV) -prune \
		-o -path ./$(RUNTIME_TESTS_VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean ## clean, and remove the virtualenvs
	rm -rf $(VENV) $(SAM_VENV) $(RUNTIME_VENV) $(RUNTIME_TESTS_VENV)
