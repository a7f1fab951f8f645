# bcs: two commands on a fresh machine.
#   make run   - install into .venv and serve config/bcs.toml (embedded defaults, 127.0.0.1:8080)
#   make test  - install .[test], start etcd + SecantusDB (+ RabbitMQ if none answers), lint, run the suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
CONFIG ?= config/bcs.toml

.PHONY: run test lint install install-test bench clean

$(BIN)/uv:
	$(PYTHON) -c 'import sys; sys.exit("bcs needs Python >= 3.11") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv

install: $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e .

install-test: $(BIN)/uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -e '.[test]'
	bash scripts/install-pymesos.sh $(BIN)/python

run: install
	$(BIN)/bcs serve --config $(CONFIG)

test:
	bash scripts/test.sh

lint: install-test
	$(BIN)/ruff check bcs tests bench
	$(BIN)/ruff format --check bcs tests bench
	$(BIN)/lint-imports

bench: install-test
	bash scripts/test.sh --bench

clean:
	rm -rf $(VENV) .bcs build *.egg-info .pytest_cache .ruff_cache
