# Shouwang 守望 — everything a fresh Debian 12 machine needs, from one clone.
#   make demo    set up and serve the demo county on http://127.0.0.1:8000
#   make test    lint, import contracts, pytest on SQLite, then on a throwaway PostgreSQL
#   make bench   run benchmarks/*.py
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
# Stages run in the order written, also under `make -j`.
.NOTPARALLEL:

PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.shouwang-installed

.PHONY: help venv system-deps assets messages lint test test-sqlite test-postgres demo bench clean

help:
	@echo "make demo    set up and serve http://127.0.0.1:8000 (prints the demo logins)"
	@echo "make test    ruff, import-linter, pytest on SQLite and on PostgreSQL"
	@echo "make bench   run benchmarks/*.py"

# --- set-up stages (each is quick when there is nothing to do) ---------------------------------

venv: $(STAMP)

# Re-installs only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml
	@if ! [ -x $(PY) ] || ! $(PY) -c '' 2>/dev/null; then \
		echo "== creating $(VENV) with $(PYTHON)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	@echo "== pip install -e '.[dev]'"
	@$(PY) -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' \
		>$(VENV)/pip-install.log 2>&1 || { cat $(VENV)/pip-install.log; exit 1; }
	@touch $@

system-deps:
	@echo "== system packages"
	@scripts/system-deps

assets:
	@echo "== front-end assets"
	@scripts/build-assets

# Compiles shouwang/locale/*/LC_MESSAGES/*.po (the .mo files are not committed).
messages: venv
	@echo "== translations"
	@if [ -n "$$(find shouwang -path '*/LC_MESSAGES/*.po' -print -quit)" ]; then \
		scripts/system-deps gettext; \
		$(PY) manage.py compilemessages --ignore=$(VENV) -l en -v 0; fi

# --- checks ------------------------------------------------------------------------------------

lint: venv
	@echo "== ruff"
	@$(VENV)/bin/ruff check .
	@echo "== import-linter"
	@$(VENV)/bin/lint-imports --no-cache --no-logo

test-sqlite: venv
	@echo "== pytest on SQLite"
	@SHOUWANG_TESTING=1 $(VENV)/bin/pytest

test-postgres: venv
	@echo "== pytest on PostgreSQL (throwaway cluster)"
	@SHOUWANG_TESTING=1 scripts/with-postgres $(VENV)/bin/pytest

test: venv system-deps assets messages lint test-sqlite test-postgres
	@echo "== all checks passed"

# --- demo and benchmarks -----------------------------------------------------------------------

# DEBUG stays off: static files come from var/static through whitenoise, as in production.
demo: export DEBUG := 0
demo: venv assets messages
	@echo "== migrate, collectstatic, demo data"
	@$(PY) manage.py migrate --noinput -v 0
	@$(PY) manage.py collectstatic --noinput -v 0
	@$(PY) manage.py demo_data --seed 1 --if-empty
	@$(PY) manage.py companion_index
	@scripts/demo

bench: venv
	@shopt -s nullglob; files=(benchmarks/*.py); \
	if [ $${#files[@]} -eq 0 ]; then echo "no benchmarks/*.py yet"; fi; \
	for f in "$${files[@]}"; do echo "== $$f"; $(PY) "$$f"; done

clean:
	rm -rf build node_modules var/static
