# The two commands a user needs: `make run` and `make test`. Both install whatever is missing first and
# are quick when nothing changed (pip runs only when pyproject.toml is newer than the install stamp).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LINT_PATHS := $(wildcard app grader tests migrations bench scripts)
PYVER := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
# The grading sandbox needs bubblewrap and an interpreter of our minor version that any uid can read.
SANDBOX_PACKAGES := bubblewrap:bwrap python$(PYVER):python$(PYVER)
# The fonts a report's PDF is set in.
REPORT_PACKAGES := fonts-dejavu-core:/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf

NPM_STAMP := frontend/node_modules/.installed
BUNDLE := app/web/static/dist/candidate.js

.PHONY: run test lint typecheck security audit pytest install install-dev assets system-deps system-test-deps services client clean help

help:
	@echo "make run    install, migrate, sync the question bank, serve on http://127.0.0.1:8000"
	@echo "           (another port: ASSAY_PORT=8080 make run; links follow it unless ASSAY_BASE_URL is set)"
	@echo "make test   install, then ruff, mypy, bandit and the whole pytest suite (SQLite and PostgreSQL)"
	@echo "make audit  known vulnerabilities in the installed dependencies (needs PyPI's JSON API or OSV)"
	@echo "make client the Python API client, generated from the API document into dist/assay-client"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev,test]'
	@touch $@ $(RUN_STAMP)

install: $(RUN_STAMP)
install-dev: $(DEV_STAMP)

system-deps:
	@scripts/ensure-system-packages.sh $(SANDBOX_PACKAGES) $(REPORT_PACKAGES)

# The candidate page's script: CodeMirror 6 and the attempt client, installed from npm and bundled by esbuild;
# and Swagger UI for the API docs page (/api/v1/docs), served from here rather than a CDN.
$(NPM_STAMP): frontend/package.json frontend/package-lock.json
	@scripts/ensure-system-packages.sh nodejs:node npm:npm
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUNDLE): $(NPM_STAMP) $(wildcard frontend/src/*.js)
	cd frontend && npm run --silent build -- --log-level=warning
	cp frontend/node_modules/swagger-ui-dist/swagger-ui-bundle.js frontend/node_modules/swagger-ui-dist/swagger-ui.css app/web/static/dist/

assets: $(BUNDLE)

run: install system-deps assets
	@mkdir -p var
	$(BIN)/assay db upgrade
	$(BIN)/assay bank sync
	$(BIN)/assay serve

system-test-deps:
	@scripts/ensure-system-packages.sh $(SANDBOX_PACKAGES) $(REPORT_PACKAGES) procps:ps docker-compose chromium \
		postgresql-client:pg_dump

services:
	@scripts/ensure-services.sh

# A pip-installable Python client for the API, generated from the document the server serves.
client: install-dev
	@mkdir -p build
	$(BIN)/assay openapi > build/openapi.json
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/openapi-python-client generate --path build/openapi.json \
		--config clients/python.yaml --output-path dist/assay-client --meta setup --overwrite
	@echo "pip install dist/assay-client, then: from assay_client import AuthenticatedClient"

lint: install-dev
	$(BIN)/ruff check $(LINT_PATHS)
	$(BIN)/ruff format --check $(LINT_PATHS)

typecheck: install-dev
	$(BIN)/mypy

# bandit at medium severity and above; each finding is fixed or justified on its line (`# nosec <id>` after
# the reason). Its low-severity checks are ruff's S rules above, justified the same way with `noqa`.
security: install-dev
	$(BIN)/bandit --quiet --recursive --severity-level medium app grader

# Known vulnerabilities in the installed dependencies. Needs PyPI's per-release JSON API (or OSV); run it
# where those are reachable (the test machines reach only a package index mirror).
audit: install-dev
	$(BIN)/pip-audit --skip-editable --strict --progress-spinner off

pytest: install-dev system-test-deps services assets
	$(BIN)/pytest $(PYTEST_ARGS)

test: lint typecheck security pytest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache frontend/node_modules app/web/static/dist
