# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
PORT ?= 8000

.PHONY: demo test install install-test js lint

install:
	$(PYTHON) -m pip install -q -e .

install-test:
	./scripts/system-deps.sh
	$(PYTHON) -m pip install -q -e ".[dev]"

js:
	npm ci --no-audit --no-fund
	npm run build
	# The built client is committed (pip users need no Node): it must match its sources.
	git diff --exit-code -- djira/static/djira/js/client.js djira/static/djira/js/client.iife.js \
		djira/static/djira/js/client.d.ts djira/static/djira/js/client.licenses.txt
	npm run typecheck

demo: install
	$(PYTHON) example/manage.py demo --host 127.0.0.1 --port $(PORT)

lint:
	ruff check .
	ruff format --check djira
	mypy djira

# e2e runs in its own pytest process: sync Playwright keeps an event loop running in the
# main thread, which the async tests in tests/ must not inherit.
test: install-test js lint
	$(PYTHON) -m pytest tests
	$(PYTHON) -m pytest e2e
	npm test
