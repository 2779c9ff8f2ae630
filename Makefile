# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
PORT ?= 8000

.PHONY: demo test install install-test js lint

# The project's own virtual environment, for the demo and the tests: Debian's system Python
# refuses `pip install` (externally-managed-environment), and neither command should touch
# the user's packages.
VENV ?= .venv
PY := $(VENV)/bin/python

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV) || { echo "On Debian/Ubuntu: sudo apt install python3-venv"; exit 1; }

# The example filters its tasks with django-filter.
install: $(VENV)/bin/python
	$(VENV)/bin/python -m pip install -q -e ".[server,filter]"

install-test:
	PYTHON=$(PYTHON) ./scripts/system-deps.sh
	$(MAKE) $(VENV)/bin/python
	$(PY) -m pip install -q -e ".[dev]"

js:
	npm ci --no-audit --no-fund
	npm run build
	# The built client is committed (pip users need no Node): it must match its sources.
	git diff --exit-code -- djira/static/djira/js/client.js djira/static/djira/js/client.iife.js \
		djira/static/djira/js/client.d.ts djira/static/djira/js/client.licenses.txt \
		djira/static/djira/js/typed.d.ts
	npm run typecheck

demo: install
	$(VENV)/bin/python example/manage.py demo --host 127.0.0.1 --port $(PORT)

# Until djira is on PyPI and npm: its wheel, its sdist and the JS client's npm tarball in
# dist/, each installed somewhere new (a fresh venv, a throw-away npm package) and used
# there by scripts/check_dist.py. README.md says how to install from them.
.PHONY: dist
dist: $(VENV)/bin/python
	$(PY) -m pip install -q build
	rm -rf dist
	$(PY) -m build --outdir dist .
	test -d node_modules || npm ci --no-audit --no-fund
	cd client && npm pack --silent --pack-destination ../dist
	$(PY) scripts/check_dist.py dist

# The guides and the API reference from docstrings; any Sphinx warning is an error.
.PHONY: docs
docs:
	$(PY) -m sphinx -W --keep-going -q -E -b html docs docs/_build/html

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check djira
	$(PY) -m mypy djira

# tests/ runs twice: on SQLite, then on PostgreSQL (a private server that tests/_postgres.py
# starts on a free port and removes afterwards, even on failure). Both runs use the default
# delivery backend (the database's outbox; the redis backend where a test starts Redis);
# tests/observers runs once more on each other backend: memory, and redis (a private
# redis-server that tests/_redis.py starts and stops).
# e2e runs in its own pytest process: sync Playwright keeps an event loop running in the
# main thread, which the async tests in tests/ must not inherit. The live admin's browser
# tests run once more with the example on PostgreSQL.
test: install-test js lint docs
	$(PY) -m pytest tests
	DJIRA_TEST_SUITE_BACKEND=memory $(PY) -m pytest tests/observers
	$(PY) -m tests._redis $(PY) -m pytest tests/observers
	$(PY) -m tests._postgres $(PY) -m pytest tests
	$(PY) -m pytest e2e
	$(PY) -m tests._postgres $(PY) -m pytest e2e/test_live_admin.py
	DJIRA_PYTHON=$(abspath $(PY)) npm test
