# Set-up is part of every target: a fresh clone needs only Python 3.11+ (and Node.js for the sandbox FHIR server).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_STAMP := sandbox/node_modules/.installed

.PHONY: run test lint clean sandbox sandbox-deps browser-deps screenshots bench fuzz

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/ketamine-cds serve --host 127.0.0.1 --port 8080

# The sandbox FHIR server's npm packages, when npm is here; without them its tests skip and say why.
$(SANDBOX_STAMP): sandbox/package.json sandbox/package-lock.json
	cd sandbox && npm ci --no-audit --no-fund
	touch $@

sandbox-deps:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(SANDBOX_STAMP); \
	else echo "npm not found: the tests that need the sandbox FHIR server will be skipped"; fi

sandbox: $(STAMP) $(SANDBOX_STAMP)
	$(BIN)/python -m service.fhir.sandbox

# Debian's chromium for the browser tests, installed when missing where we are root (as CI is); elsewhere the
# browser tests skip and say why.
browser-deps:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "Installing chromium from Debian's packages ..."; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	  { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; } || \
	  echo "chromium could not be installed: the browser tests will be skipped"; \
	else echo "chromium not found (install Debian's chromium as root): the browser tests will be skipped"; fi

test: $(STAMP) sandbox-deps browser-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

# The README's pictures: the browser tests run against the service and save what they see into docs/images/.
screenshots: $(STAMP) sandbox-deps browser-deps
	KETAMINE_CDS_SCREENSHOTS=docs/images $(BIN)/python -m pytest tests/browser -q

# The property-based tests (generated hook requests, FHIR entries and feedback) with many more examples than the
# suite runs: a quarter of an hour or so on two cores.
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -m fuzz -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# Not a test: starts the service and two baselines under gunicorn and drives them with wrk (installed when missing).
bench: $(STAMP) sandbox-deps
	$(BIN)/python -m bench.benchmark

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache sandbox/node_modules
