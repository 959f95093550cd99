# Two set-up commands on a fresh machine:  `make demo` (the main job end to end) and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
QA4D := $(VENV)/bin/qa4d
OUT ?= out/demo
SEED ?= 0
# question families of the demo dataset (qa4d generate --families)
FAMILIES ?= 4dpqa multispa vlm4d sti r4d timebench

.PHONY: demo demo-convert test install system-deps bench clean train-demo

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,hf,train,ray]'
	touch $@

install: $(VENV)/.installed

# Debian's chromium, for the browser tests of the HTML gallery and reports.
system-deps:
	@bash scripts/install-system-deps.sh

# The main job end to end on the built-in simulator. Every step resumes: re-running is cheap.
demo: $(VENV)/.installed
	$(QA4D) simulate --out $(OUT)/scenes --scenes 64 --frames 32 --size 160 --seed $(SEED) --workers 2
	$(QA4D) validate --quiet $(OUT)/scenes
	$(QA4D) generate --scenes $(OUT)/scenes --out $(OUT)/dataset --seed $(SEED) --bench-fraction 0.3 --workers 2 --families $(FAMILIES)
	$(QA4D) audit $(OUT)/dataset
	$(QA4D) card $(OUT)/dataset
	$(QA4D) view $(OUT)/dataset
	$(QA4D) export $(OUT)/dataset --format llamafactory --out $(OUT)/export/llamafactory
	$(QA4D) export $(OUT)/dataset --format qwen --out $(OUT)/export/qwen
	for m in random prior oracle obedient; do $(QA4D) eval --benchmark $(OUT)/dataset/bench --model $$m --out $(OUT)/runs/$$m || exit 1; done
	$(QA4D) report $(OUT)/runs/random $(OUT)/runs/prior $(OUT)/runs/oracle $(OUT)/runs/obedient --out $(OUT)/report
	$(PY) scripts/demo_convert.py $(OUT)/convert
	@echo
	@echo "scenes:   $(OUT)/scenes"
	@echo "dataset:  $(OUT)/dataset  (card: CARD.md, gallery: gallery/index.html, audit: audit.json)"
	@echo "exports:  $(OUT)/export"
	@echo "runs:     $(OUT)/runs/{random,prior,oracle,obedient}  comparison: $(OUT)/report"
	@echo "convert:  $(OUT)/convert  (one tiny fixture of each converted dataset, generated and audited)"

# `qa4d convert` on one tiny fixture of each supported dataset (Kubric, TAPVid-3D, VKITTI2,
# PointOdyssey, a reconstruction of a video), then generate, audit and card.
demo-convert: $(VENV)/.installed
	$(PY) scripts/demo_convert.py $(OUT)/convert

# Training on CPU with a tiny random model, on the demo dataset (see docs/training.md): the teacher,
# SFT, P4D with and without TPE, the geometry-encoder VLM (2 stages), then qa4d eval of each and a
# side-by-side report (the first TRAIN_EVAL_ITEMS bench items). Every run resumes; TRAIN_STEPS sets
# the steps of each VLM run.
TRAIN_OUT ?= $(OUT)/train
TRAIN_STEPS ?= 200
TRAIN_EVAL_ITEMS ?= 100
TRAIN_FLAGS = --dataset $(OUT)/dataset --preset 4dpqa --lr 3e-3 --schedule constant --max-steps $(TRAIN_STEPS) --threads 2 --save-every 50
train-demo: demo
	$(QA4D) train tiny-model --out $(TRAIN_OUT)/tiny --seed $(SEED)
	$(QA4D) train teacher --scenes $(OUT)/scenes --out $(TRAIN_OUT)/teacher --max-steps 300 --threads 2 --seed $(SEED)
	$(QA4D) train sft $(TRAIN_FLAGS) --model-path $(TRAIN_OUT)/tiny --out $(TRAIN_OUT)/sft
	$(QA4D) train p4d $(TRAIN_FLAGS) --model-path $(TRAIN_OUT)/tiny --teacher $(TRAIN_OUT)/teacher --decoder-hidden 256 --out $(TRAIN_OUT)/p4d
	$(QA4D) train p4d $(TRAIN_FLAGS) --model-path $(TRAIN_OUT)/tiny --teacher $(TRAIN_OUT)/teacher --decoder-hidden 256 --tpe --out $(TRAIN_OUT)/p4d-tpe
	$(QA4D) train geo --stage 1 $(TRAIN_FLAGS) --lr 1e-2 --model-path $(TRAIN_OUT)/tiny --teacher $(TRAIN_OUT)/teacher --out $(TRAIN_OUT)/geo1
	$(QA4D) train geo --stage 2 $(TRAIN_FLAGS) --model-path $(TRAIN_OUT)/geo1/final --out $(TRAIN_OUT)/geo2
	$(QA4D) eval --benchmark $(OUT)/dataset/bench --model prior --limit $(TRAIN_EVAL_ITEMS) --out $(TRAIN_OUT)/eval/prior
	$(QA4D) eval --benchmark $(OUT)/dataset/bench --model hf --model-path $(TRAIN_OUT)/tiny --device cpu --max-new-tokens 24 --limit $(TRAIN_EVAL_ITEMS) --out $(TRAIN_OUT)/eval/untrained
	for r in sft p4d p4d-tpe geo2; do $(QA4D) eval --benchmark $(OUT)/dataset/bench --model hf --model-path $(TRAIN_OUT)/$$r/final --device cpu --max-new-tokens 24 --limit $(TRAIN_EVAL_ITEMS) --out $(TRAIN_OUT)/eval/$$r || exit 1; done
	$(QA4D) report $(addprefix $(TRAIN_OUT)/eval/,prior untrained sft p4d p4d-tpe geo2) --out $(TRAIN_OUT)/report
	@echo
	@echo "runs (log.jsonl, loss.png, final/): $(TRAIN_OUT)/{teacher,sft,p4d,p4d-tpe,geo1,geo2}"
	@echo "evaluations: $(TRAIN_OUT)/eval   comparison: $(TRAIN_OUT)/report"

test: $(VENV)/.installed system-deps
	$(VENV)/bin/ruff check --select F,E9 src tests scripts
	$(PY) -m pytest -n 2 -q -p no:cacheprovider

# Performance scripts; figures go to docs/benchmarks.md.
bench: $(VENV)/.installed
	$(PY) scripts/bench_simulator.py
	$(PY) scripts/bench_engine.py
	$(PY) scripts/bench_eval.py
	$(PY) scripts/bench_train.py

clean:
	rm -rf $(OUT)
