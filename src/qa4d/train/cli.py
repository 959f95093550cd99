"""Train vision-language models on qa4d datasets (needs the `train` extra: pip install -e '.[train]').

Sub-verbs (each one's --help says what it reads and writes):
  tiny-model   build a tiny random VLM of a real architecture (no download), for tests and demos
  sft          supervised fine-tuning on a dataset's train split (presets: 4dpqa, multispa, 4drgpt)
  teacher      train a small 4D perception model (depth, flow, motion, camera rays) on scenes
  p4d          SFT plus 4D-RGPT's perceptual distillation from a teacher, optionally with TPE
  geo          4DP-QA's VLM with geometry tokens from a frozen 4D encoder (--stage 1, then 2)

Every training sub-verb writes, in --out RUN: log.jsonl (one object per optimiser step: step, loss,
each loss term, lr), loss.png, checkpoints/ (the same command resumes after a crash), and final/.
"""

from __future__ import annotations

import argparse
import importlib

# sub-verb -> (module, summary); modules import torch only when they run
SUBVERBS: dict[str, tuple[str, str]] = {
    "tiny-model": ("qa4d.train.tiny_model", "build a tiny random VLM (no download)"),
    "sft": ("qa4d.train.sft", "supervised fine-tuning on a qa4d dataset"),
    "teacher": ("qa4d.train.teacher", "train a small 4D perception teacher on scenes"),
    "p4d": ("qa4d.train.p4d", "SFT + perceptual distillation (4D-RGPT), optional TPE"),
    "geo": ("qa4d.train.geo", "the geometry-encoder VLM of 4DP-QA, stage 1 or 2"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="train_verb", metavar="SUBVERB", required=True)
    for name, (module_name, summary) in SUBVERBS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=summary, description=module.__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(p)
        p.set_defaults(_train_run=module.run)


def run(args: argparse.Namespace) -> int:
    try:
        return int(args._train_run(args) or 0)
    except ImportError as e:
        if e.name in ("torch", "transformers", "peft", "accelerate", "tokenizers"):
            print(f"qa4d train needs {e.name}: pip install -e '.[train]'")
            return 2
        raise
