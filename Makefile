# Two commands set everything up on a fresh Debian / Raspberry Pi OS: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit scenario setup clean screenshots

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/bootstrap.sh
	sh scripts/bootstrap.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# Every run takes the tests in a new random order (pytest-randomly); the seed is printed, `make test SEED=n` replays it.
ifndef SEED
SEED := $(shell od -An -N2 -tu2 /dev/urandom | tr -d ' ')
endif
# Tests marked `alone` measure how responsive the kiosk stays under its own load: the suite's other worker would
# add load no station has, so they run after the parallel part, one at a time.
unit: $(STAMP)
	@echo "test order: --randomly-seed=$(SEED) (replay with: make test SEED=$(SEED))"
	$(BIN)/pytest -n 2 -q -p randomly --randomly-seed=$(SEED) -m "not alone"
	$(BIN)/pytest -q -p randomly --randomly-seed=$(SEED) -m alone

# The demo's headless life cycle (hub, sync, simulated boards), in a temporary folder: exit 0 only if every step behaved.
# It runs on the mixed wall (a Modbus relay board and the Pi's GPIO header); the pytest suite runs it on the serial one.
scenario: $(STAMP)
	d=$$(mktemp -d) && $(BIN)/wibox demo --scenario --boards mixed --data "$$d/demo"; rc=$$?; rm -rf "$$d"; exit $$rc

test: lint typecheck unit scenario

screenshots: $(STAMP)
	$(BIN)/python -m tests.ui.screenshots docs/screenshots

demo: $(STAMP)
	$(BIN)/wibox demo

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
