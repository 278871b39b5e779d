# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint index clean-venv

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
## system tests need from Debian (Chromium, PostgreSQL, wrk), as .ci/run does; otherwise the
## tests that need a missing piece are skipped and the summary says why.
test: $(VENV)/.installed-dev
	@.ci/system-packages
	$(BIN)/ruff check src tests app.py
	$(BIN)/python -m pytest -q

index: $(VENV)/.installed-app
	$(BIN)/ketaqa index

clean-venv:
	rm -rf $(VENV)
