# Image Analyzer — common tasks. `make help` lists them.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: help install demo test lint bench layer notebooks clean
help:
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

install: ## create .venv with everything for development and tests
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'

demo: ## start the local stack and analyse sample images through it
	$(BIN)/image-analyzer demo

test: ## the whole test suite (what CI runs)
	$(BIN)/python -m pytest

lint: ## ruff
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench: ## benchmarks with printed ratios against baselines
	$(BIN)/python -m benchmarks

layer: ## build the Lambda layer zip for the configured architecture
	$(BIN)/python -m layer.build

notebooks: ## open the notebooks with the project's kernel
	$(BIN)/python -m ipykernel install --user --name image-analyzer --display-name "Image Analyzer"
	$(BIN)/jupyter lab notebooks/ || $(BIN)/jupyter notebook notebooks/

clean:
	rm -rf build dist layer/dist .pytest_cache .ruff_cache test-artifacts
