# Fresh machine (Python 3.10+ and pip): `make test` or `make demo` sets everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MMCV_TARGET ?= auto
STAMP  := $(VENV)/.vitdet-setup

.PHONY: setup test test-fast demo lint clean

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/install_torch.sh $(wildcard patches/*/*.patch)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	scripts/install_torch.sh $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/vitdet build-mmcv --target $(MMCV_TARGET)
	touch $@

test: setup
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup
	$(BIN)/vitdet env-check
	$(BIN)/vitdet demo --work-dir outputs/demo

lint: setup
	$(BIN)/ruff check vitdet_cli tests

clean:
	rm -rf $(VENV) .pytest_cache
