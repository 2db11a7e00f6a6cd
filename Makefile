# The two commands: `make run` serves on SQLite at http://127.0.0.1:8000, `make test` runs the suite.
# Both create the virtualenv and install what they need on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run serve migrate test bench soak lint format clean docs-assets

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

install: $(INSTALLED)

migrate: install
	$(BIN)/alembic upgrade head

run: migrate
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT)

# Production-style serving: several worker processes (set WORKERS), no auto-reload, no access log.
# Keep-alive outlasts clients' and balancers' idle timeouts (often 60 s): a server that closes an
# idle connection first races the next request sent on it. The h11 parser with a 16 KiB bound on
# a request's head refuses huge headers at once; uvicorn's default parser (httptools) has no bound
# (see docs/operations.md, Deployment: behind a proxy that bounds headers, HTTP=httptools is faster).
WORKERS ?= 2
HTTP ?= h11
serve: migrate
	$(BIN)/uvicorn app.main:app --host $(HOST) --port $(PORT) \
		--workers $(WORKERS) --no-access-log --proxy-headers --timeout-keep-alive 75 \
		--http $(HTTP) --h11-max-incomplete-event-size 16384 --ws-max-size 1048576

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .coverage *.egg-info build
