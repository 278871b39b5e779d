# The two commands of the README, `make run` and `make test`; and `make test-fast` for contributors.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-fast lint index clean-venv

# axe-core (package.json, pinned in package-lock.json) for the browser tests' accessibility scan;
# without node/npm those checks are skipped and pytest's summary says why.
node_modules/axe-core/axe.min.js: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --ignore-scripts --silent && touch $@; \
	else echo "npm not found: the browser tests' axe-core scan will be skipped" >&2; fi

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-app: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install -q -c constraints.txt -e '.[dev,postgres]'
	touch $@ $(VENV)/.installed-app

## Set up, build the index if missing or stale, and launch the app on 127.0.0.1:7860.
run: $(VENV)/.installed-app
	$(BIN)/ketaqa index
	$(BIN)/python app.py

## Set up with the dev extras and run the whole test suite. As root, first installs what the
## system tests need from Debian (Chromium, PostgreSQL, wrk; npm, which installs axe-core), as
## .ci/run does; otherwise the tests that need a missing piece are skipped and the summary says why.
test: $(VENV)/.installed-dev
	@.ci/system-packages
	@$(MAKE) --no-print-directory node_modules/axe-core/axe.min.js || true
	$(BIN)/ruff check src tests app.py
	$(BIN)/python -m pytest -q

## The unit tier alone: pure functions on small inputs, no embedding model, no index built,
## under a minute. Run it while changing code; `make test` still runs everything.
test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow" tests/unit

index: $(VENV)/.installed-app
	$(BIN)/ketaqa index

clean-venv:
	rm -rf $(VENV)
