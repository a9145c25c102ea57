# Fresh machine (Python 3.10+ and pip): `make test` or `make demo` sets everything up first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MMCV_TARGET ?= auto
STAMP  := $(VENV)/.vitdet-setup

# The users' stack (torch 2.8.0, as on Ascend and CUDA hosts) in a second venv: `make test-torch28`.
TORCH28_VENV ?= .venv-torch28

.PHONY: setup test test-fast test-torch28 demo lint clean

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

test-torch28:
	$(MAKE) test VENV=$(TORCH28_VENV) TORCH_SPEC="$$(scripts/install_torch.sh --spec cuda)"

test-fast: setup
	$(BIN)/python -m pytest -q -m "not slow"

demo: setup
	$(BIN)/vitdet env-check
	$(BIN)/vitdet demo --work-dir outputs/demo

lint: setup
	$(BIN)/ruff check vitdet_cli tests

clean:
	rm -rf $(VENV) $(TORCH28_VENV) .pytest_cache
