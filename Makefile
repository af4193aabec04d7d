# The two commands: `make run` serves the platform, `make test` runs the whole suite.
# Both create .venv and install pinned dependencies first (only when pyproject.toml or constraints.txt change).

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck pytest install bench clean

LLAMA_VERSION := $(shell sed -n 's/^llama_cpp_python==//p' constraints.txt)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip==26.3
	@# llama-cpp-python ships only as source; its default native build crashes on CPUs with AMX, so it is
	@# built portable, once, bypassing pip's wheel cache (which could hand back a native build).
	@$(BIN)/python -c "import importlib.metadata as m, sys; sys.exit(m.version('llama_cpp_python') != '$(LLAMA_VERSION)')" 2>/dev/null \
	  || { echo "Building llama-cpp-python $(LLAMA_VERSION) for the embedded model (once; about 7 minutes on 2 cores)..."; \
	       CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1 $(BIN)/python -m pip install --quiet --no-cache-dir \
	         --no-binary llama-cpp-python -c constraints.txt llama-cpp-python; }
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/nexus migrate
	$(BIN)/nexus serve

test: install lint typecheck pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

pytest: install
	$(BIN)/pytest -n auto

bench: install
	$(BIN)/python bench/api.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
