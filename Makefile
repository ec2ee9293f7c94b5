# Two commands on a fresh machine: `make app` serves the course, `make test` runs every test.
# Each sets itself up: a virtual environment in .venv with qlearn installed editable.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.qlearn-installed
HOST ?= 127.0.0.1
PORT ?= 8866
# Unit tests, doctests and notebooks run in this many pytest-xdist workers (2 cores is the budget
# machine; WORKERS=0 runs them in one process, as pytest alone does).
WORKERS ?= 2

.PHONY: setup app lab test test-unit test-notebooks test-browser test-load browser-deps check-stripped bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "qlearn needs Python 3.11 or newer (found $$($(PYTHON) --version))"; exit 1; }
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  echo "python3 -m venv failed: installing Debian's python3-venv"; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); \
	  else echo "run: sudo apt-get install python3-venv"; exit 1; fi; }
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]" -c binder/constraints.txt
	@touch $(STAMP)

setup: $(STAMP)

app: setup
	$(VENV)/bin/qlearn serve --host $(HOST) --port $(PORT)

lab: setup
	$(VENV)/bin/jupyter lab --LabApp.news_url=None $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/00_index.ipynb

test: setup check-stripped test-unit test-notebooks test-browser

test-unit: setup
	$(PY) -m pytest -q -n $(WORKERS) tests qlearn --ignore=tests/browser

# --dist loadfile: a notebook's cells stay in one worker (one kernel), in order.
test-notebooks: setup
	$(PY) -m pytest -q -n $(WORKERS) --dist loadfile --nbval-lax --nbval-current-env notebooks

# Browser tests: Chromium (Debian's, installed when root; or Playwright's own) and JupyterHub's
# proxy (configurable-http-proxy, from the npm registry) for the class-server test.
browser-deps: setup
	bash scripts/ensure_chromium.sh
	@[ -x deploy/node_modules/.bin/configurable-http-proxy ] || npm install --silent --no-audit --no-fund --prefix deploy

test-browser: browser-deps
	$(PY) -m pytest -q tests/browser

# Only the multi-user ones (five simultaneous learners, the JupyterHub class server); part of
# test-browser too.
test-load: browser-deps
	$(PY) -m pytest -q -m load tests/browser

check-stripped: setup
	@$(VENV)/bin/nbstripout --verify notebooks/*.ipynb || \
	  { echo "notebooks are not stripped: run $(VENV)/bin/nbstripout notebooks/*.ipynb"; exit 1; }

bench: setup
	for f in benchmarks/bench_*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
