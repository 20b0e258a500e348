# Image Analyzer — common tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install demo up test lint bench layer notebooks lab clean
help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

STAMP := $(VENV)/.installed

install: $(STAMP) ## create .venv with everything for development and tests

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP) ## start the local stack and analyse sample images through it
	$(BIN)/image-analyzer demo

up: $(STAMP) ## run the local stack (API and web page on http://127.0.0.1:8000) until Ctrl-C
	$(BIN)/image-analyzer up

test: $(STAMP) ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: $(STAMP) ## benchmarks with printed ratios against baselines
	$(BIN)/python -m benchmarks

layer: $(STAMP) ## build the Lambda layer zip for the configured architecture
	$(BIN)/python layer/build.py

notebooks: $(STAMP) ## execute the notebooks headless and keep their outputs (commit them: tests check they are current)
	$(BIN)/python notebooks/run.py

lab: $(STAMP) ## open the notebooks in JupyterLab with the project's kernel
	$(BIN)/pip install -q jupyterlab
	$(BIN)/python -m ipykernel install --user --name image-analyzer --display-name "Image Analyzer (.venv)"
	$(BIN)/jupyter lab --allow-root notebooks/

clean:
	rm -rf build dist layer/dist .pytest_cache .ruff_cache test-artifacts
