# Two set-up commands on a fresh machine:  `make demo` (the main job end to end) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
QA4D := $(VENV)/bin/qa4d
OUT ?= out/demo
SEED ?= 0

.PHONY: demo demo-convert test install system-deps bench clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,hf,ray]'
	touch $@

install: $(VENV)/.installed

# Debian's chromium, for the browser tests of the HTML gallery and reports.
system-deps:
	@bash scripts/install-system-deps.sh

# The main job end to end on the built-in simulator. Every step resumes: re-running is cheap.
demo: $(VENV)/.installed
	$(QA4D) simulate --out $(OUT)/scenes --scenes 64 --frames 32 --size 160 --seed $(SEED) --workers 2
	$(QA4D) validate --quiet $(OUT)/scenes
	$(QA4D) generate --scenes $(OUT)/scenes --out $(OUT)/dataset --seed $(SEED) --bench-fraction 0.3 --workers 2
	$(QA4D) audit $(OUT)/dataset
	$(QA4D) card $(OUT)/dataset
	$(QA4D) view $(OUT)/dataset
	$(QA4D) export $(OUT)/dataset --format llamafactory --out $(OUT)/export/llamafactory
	$(QA4D) export $(OUT)/dataset --format qwen --out $(OUT)/export/qwen
	for m in random prior oracle; do $(QA4D) eval --benchmark $(OUT)/dataset/bench --model $$m --out $(OUT)/runs/$$m || exit 1; done
	$(QA4D) report $(OUT)/runs/random $(OUT)/runs/prior $(OUT)/runs/oracle --out $(OUT)/report
	@echo
	@echo "scenes:   $(OUT)/scenes"
	@echo "dataset:  $(OUT)/dataset  (card: CARD.md, gallery: gallery/index.html, audit: audit.json)"
	@echo "exports:  $(OUT)/export"
	@echo "runs:     $(OUT)/runs/{random,prior,oracle}  comparison: $(OUT)/report"

# `qa4d convert` on one tiny fixture of each supported dataset (Kubric, TAPVid-3D, VKITTI2,
# PointOdyssey, a reconstruction of a video), then generate, audit and card.
demo-convert: $(VENV)/.installed
	$(PY) scripts/demo_convert.py out/demo-convert

test: $(VENV)/.installed system-deps
	$(VENV)/bin/ruff check --select F,E9 src tests scripts
	$(PY) -m pytest -n 2 -q -p no:cacheprovider

# Performance scripts; figures go to docs/benchmarks.md.
bench: $(VENV)/.installed
	$(PY) scripts/bench_simulator.py
	$(PY) scripts/bench_engine.py
	$(PY) scripts/bench_eval.py

clean:
	rm -rf $(OUT)
