# LipService: `make run` starts the service with a populated demo; `make test` runs the suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
export DJANGO_SETTINGS_MODULE := lipservice.settings

.PHONY: install install-dev check-runtime node node-sdk run test lint format services demo frontend-check clean

# What serving needs (`make run`); the development extras (test, lint, browser and load tools) come with install-dev.
install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml sdk/python/pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e sdk/python -e .
	@touch $@

install-dev: $(VENV)/.installed-dev

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

# Fails when the environment holds a development-only package (run it on a fresh `make install`).
check-runtime: install
	$(PY) .ci/runtime_deps.py

# Node is needed only by tests and builds (PostHog's Hog parser and VM, the dashboard bundle), never to serve:
# the built bundle is committed in frontend/dist.
node: frontend/node_modules/.installed

frontend/node_modules/.installed: frontend/package-lock.json
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py setup_periodic_tasks
	$(PY) manage.py load_demo
	$(PY) manage.py ensure_admin
	@echo ""
	@echo "  LipService is running:"
	@echo "    dashboard   http://127.0.0.1:$(PORT)/dashboard/"
	@echo "    admin       http://127.0.0.1:$(PORT)/admin/   (user: admin)"
	@echo "    API docs    http://127.0.0.1:$(PORT)/api/docs/"
	@echo "    health      http://127.0.0.1:$(PORT)/api/v1/health"
	@echo ""
	$(VENV)/bin/gunicorn lipservice.wsgi --bind 127.0.0.1:$(PORT) --workers 1 --threads 8 --access-logfile -

test: install-dev node services node-sdk
	$(PY) -m pytest

# The JavaScript SDK (sdk/js): its own locked dependencies, build and node:test suite (parity runs the Python SDK).
node-sdk: install
	cd sdk/js && npm ci --no-audit --no-fund --loglevel=error && LIPSERVICE_PYTHON=$(CURDIR)/$(PY) npm test --silent

lint: install-dev node
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	cd frontend && npm run --silent typecheck && npm test --silent

# Rebuilds the dashboard bundle and the generated API types and fails if the committed ones differ.
frontend-check: install node
	bash frontend/check-build.sh

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Starts any server the tests need that the machine does not already run (ClickHouse); idempotent.
services:
	@bash .ci/services.sh

demo: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py load_demo

clean:
	rm -rf .data .services .pytest_cache .mypy_cache .ruff_cache
