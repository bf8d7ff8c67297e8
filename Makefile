# Set-up is part of every target: a fresh clone needs only Python 3.11+ (and Node.js for the sandbox FHIR server).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SANDBOX_STAMP := sandbox/node_modules/.installed

.PHONY: run test lint clean sandbox sandbox-deps bench fuzz

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

test: $(STAMP) sandbox-deps
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

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
