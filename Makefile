# The two commands: `make run` serves on SQLite at http://127.0.0.1:8000, `make test` runs the suite.
# Both create the virtualenv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LOCK := requirements.lock
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve migrate test test-py313 lock lock-upgrade bench soak lint format clean \
	docs-assets

# Exactly what the lock pins (pip and setuptools included), each file checked against its hash,
# then the project itself on top, built by that setuptools: nothing unpinned is fetched. pip check
# fails when pyproject.toml asks for what the lock lacks (then: make lock).
$(INSTALLED): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(INSTALLED)

install: $(INSTALLED)

# requirements.lock: the main dependencies and the dev and otel extras, plus pip and the build
# backend pyproject.toml names (so the project builds from the lock too), resolved once for every
# Python from 3.11 and every platform, with the hashes of every file. Pins that pyproject.toml
# still allows are kept; lock-upgrade takes the newest of everything. uv resolves, from a venv of
# its own: installing from the lock needs only Python and pip. No index URL is written into it,
# whatever index a machine's pip config names.
UV_VERSION := 0.13.9
LOCK_VENV := .venv-lock
UV_STAMP := $(LOCK_VENV)/.uv-$(UV_VERSION)
LOCK_INPUTS = $(PYTHON) -c 'import tomllib; build = tomllib.load(open("pyproject.toml", "rb")); \
	print(*build["build-system"]["requires"], "pip", sep="\n")'
$(UV_STAMP):
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	touch $(UV_STAMP)

lock: $(UV_STAMP)
	$(LOCK_INPUTS) | $(LOCK_VENV)/bin/uv pip compile --quiet --universal --python-version 3.11 \
		--generate-hashes --extra dev --custom-compile-command 'make lock' $(LOCK_FLAGS) \
		pyproject.toml - -o $(LOCK)

lock-upgrade:
	$(MAKE) --no-print-directory lock LOCK_FLAGS=--upgrade

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

# Production-style serving: several worker processes (set WORKERS), no auto-reload, no access log.
# Keep-alive outlasts clients' and balancers' idle timeouts (often 60 s): a server that closes an
# idle connection first races the next request sent on it. The h11 parser with a 16 KiB bound on
# a request's head refuses huge headers at once; uvicorn's default parser (httptools) has no bound
# (see docs/operations.md, Deployment: behind a proxy that bounds headers, HTTP=httptools is faster).
# The workers' metrics add up in METRICS_DIR, emptied at each start (app/metrics.py). The app
# reads the proxy headers itself (app/access.py), and the access line is its own.
WORKERS ?= 2
HTTP ?= h11
METRICS_DIR ?= .metrics
serve: migrate
	rm -rf $(METRICS_DIR) && mkdir -p $(METRICS_DIR)
	PROMETHEUS_MULTIPROC_DIR=$(abspath $(METRICS_DIR)) $(BIN)/uvicorn app.main:app \
		--host $(HOST) --port $(PORT) --workers $(WORKERS) --no-access-log --no-proxy-headers \
		--timeout-keep-alive 75 --http $(HTTP) --h11-max-incomplete-event-size 16384 \
		--ws-max-size 1048576

# The Node clients of tests/reliability/test_graphql_over_http.py (the GraphQL-over-HTTP audit,
# Apollo Client) are installed from their lockfile when npm is there; without Node they skip.
AUDIT_MODULES := tests/graphql_http/node_modules/.package-lock.json
$(AUDIT_MODULES): tests/graphql_http/package-lock.json
	cd tests/graphql_http && npm ci --no-audit --no-fund --silent

# The browser test of the documentation pages (tests/reliability/test_docs_in_browser.py) drives
# Debian's chromium with playwright-core, installed the same way; no browser is downloaded.
BROWSER_MODULES := tests/browser/node_modules/.package-lock.json
$(BROWSER_MODULES): tests/browser/package-lock.json
	cd tests/browser && npm ci --no-audit --no-fund --silent

# A real Better Auth server (tests/better_auth/server.mjs, started by tests/better_auth_server.py),
# so the service's acceptance of Better Auth tokens is checked against the real thing.
BETTER_AUTH_MODULES := tests/better_auth/node_modules/.package-lock.json
$(BETTER_AUTH_MODULES): tests/better_auth/package-lock.json
	cd tests/better_auth && npm ci --no-audit --no-fund --silent

test: install
	@if command -v npm >/dev/null; then \
		$(MAKE) --no-print-directory $(AUDIT_MODULES) $(BROWSER_MODULES) $(BETTER_AUTH_MODULES); fi
	$(BIN)/pytest --cov --cov-report=term --cov-fail-under=90

# The suite on Python 3.13, the newest supported, from the same lock in .venv313, on SQLite alone
# (CI runs it after `make test`). Without a Python 3.13 it fails, never skips: the newest 3.13
# pyenv has, else python3.13 on PATH, or PYTHON313=/path/to/python3.13.
PYENV_ROOT ?= $(HOME)/.pyenv
PYTHON313 ?= $(or $(shell ls -d $(PYENV_ROOT)/versions/3.13.*/bin/python3 2>/dev/null \
	| sort -V | tail -n 1),$(shell command -v python3.13))
test-py313:
	@test -n "$(PYTHON313)" || { echo "FAIL: no Python 3.13 (set PYTHON313)" >&2; exit 1; }
	@$(PYTHON313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' || \
		{ echo "FAIL: $(PYTHON313) is not Python 3.13" >&2; exit 1; }
	env -u TEST_DATABASE_URL -u REQUIRE_NODE_TOOLS \
		$(MAKE) --no-print-directory test PYTHON=$(PYTHON313) VENV=.venv313

# The documentation pages' bundles, app/static/docs/vendor (committed): `npm ci` from
# docs_assets/package-lock.json, then the files the pages load (see docs_assets/vendor.py).
docs-assets:
	$(PYTHON) docs_assets/vendor.py

# The README's table of settings, rendered from app.settings.Settings (tests/test_docs.py fails
# when the two differ).
.PHONY: settings-table
settings-table: install
	$(BIN)/python -m app.settings_table

# Load benchmark against the peers in ../shared/peers and PostGraphile 4 (see bench/README.md).
bench: install
	@command -v wrk >/dev/null || apt-get install -y -q wrk || \
		(apt-get update -q && apt-get install -y -q wrk)
	$(BIN)/python -m bench

# tests/reliability/test_soak.py for five minutes (CI runs it for 20 s): mixed load on two
# workers, then a consistency check (see docs/operations.md, Reliability).
soak: install
	TEST_DATABASE_URL=$${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
		SOAK_SECONDS=300 $(BIN)/pytest tests/reliability/test_soak.py -p no:cacheprovider -s

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .venv313 $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache .coverage *.egg-info \
		build
