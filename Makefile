# Two set-up commands on a fresh machine:  `make demo` (the main job end to end) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
QA4D := $(VENV)/bin/qa4d
OUT ?= out/demo
SEED ?= 0

.PHONY: demo test install system-deps bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,hf]'
	touch $@

install: $(VENV)/.installed

# Debian's chromium, for the browser tests of the HTML gallery and reports.
system-deps:
	@bash scripts/install-system-deps.sh

demo: $(VENV)/.installed
	$(QA4D) simulate --out $(OUT)/scenes --scenes 8 --frames 32 --size 224 --seed $(SEED) --workers 2
	$(QA4D) validate $(OUT)/scenes
	@echo "scenes: $(OUT)/scenes"

test: $(VENV)/.installed system-deps
	$(PY) -m pytest -n 2 -p no:cacheprovider

bench: $(VENV)/.installed
	$(PY) scripts/bench_simulator.py

clean:
	rm -rf $(OUT)
