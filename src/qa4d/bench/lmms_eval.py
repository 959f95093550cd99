"""Write a qa4d benchmark split as an lmms-eval task folder.

Reads DATASET: a dataset root (its --split, bench by default), a split directory such as
DATASET/bench, or a split's samples.jsonl.
Writes into --out DIR (each file atomically):
  <task>.yaml       the task config: local JSON data, generate_until with a generation budget that
                    fits the longest expected answer, doc_to_visual / doc_to_text / process_results /
                    aggregation as `!function utils.*`, and one metric per reported group:
                    qa4d_accuracy (all items), task_<task> per task, category_<category> per category
  utils.py          the task functions (they import qa4d to score exactly as `qa4d score` does)
  test.jsonl        one doc per sample: id, task, category, question, prompt (qa4d's prompt in
                    --mode, with the instruction of the item's answer form), answer, answer_format,
                    media, options_json, meta_json, task_metric, category_metric
  qa4d_task.json    the dataset root the media paths are relative to (QA4D_MEDIA_ROOT overrides)
Copy DIR into lmms_eval/tasks/ (or pass --include_path DIR) and run with --tasks <task>.
The YAML names test.jsonl by its absolute path: re-export after moving the folder.

Generation budget (--max-new-tokens, default computed): the longest expected answer, written in the
form its prompt asks for (the `obedient` baseline's reply in direct-output mode), counted in UTF-8
bytes, an upper bound on its tokens for byte-level tokenizers (a token covers at least one byte),
times 1.5 plus 16 for spacing a model may add, at least 64, rounded up to a multiple of 16; chain
of thought adds 1024 tokens of reasoning.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

UTILS_SOURCE = Path(__file__).with_name("lmms_eval_utils.py")
SPLITS = ("bench", "train")
MIN_BUDGET = 64           # tokens: room for a short preamble before a one-letter answer
REASONING_BUDGET = 1024   # tokens added for chain of thought
OVERALL_METRIC = "qa4d_accuracy"


class ExportError(ValueError):
    """The dataset or the options cannot be exported (the message says why)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET",
                        help="dataset root (exports its --split), a split directory (DATASET/bench) or its samples.jsonl")
    parser.add_argument("--split", default=None, choices=SPLITS,
                        help="split of a dataset root to export (default: bench)")
    parser.add_argument("--out", required=True, type=Path, help="output task folder")
    parser.add_argument("--task-name", default=None, help="lmms-eval task name (default: qa4d_<dataset name>_<split>)")
    parser.add_argument("--mode", default="do", choices=("do", "cot"),
                        help="prompt mode: direct output (default) or chain of thought")
    parser.add_argument("--max-new-tokens", type=int, default=None,
                        help="generation budget (default: computed from the longest expected answer)")


def samples_file(dataset: Path, split: str | None = None) -> Path:
    """The samples.jsonl to export: DATASET/<split>/samples.jsonl for a dataset root, the split's
    file for a split directory, or the file itself."""
    p = Path(dataset)
    if p.is_file():
        if split is not None:
            raise ExportError(f"{p}: --split applies to a dataset root, not to a samples file")
        return p
    if not p.is_dir():
        raise ExportError(f"{p}: no such dataset, split directory or samples.jsonl")
    if (p / "samples.jsonl").is_file():
        if split is not None and p.name != split:
            raise ExportError(f"{p}: is the {p.name!r} split directory, but --split {split} was given")
        return p / "samples.jsonl"
    name = split or "bench"
    if (p / name / "samples.jsonl").is_file():
        return p / name / "samples.jsonl"
    raise ExportError(f"{p}: neither a split directory (no samples.jsonl) nor a dataset root with "
                      f"{name}/samples.jsonl")


def _task_name(samples: Path) -> str:
    split_dir = samples.resolve().parent
    return slug(f"qa4d_{split_dir.parent.name}_{split_dir.name}")


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]+", "_", str(text)).strip("_").lower()


def generation_budget(items, bench, mode: str = "do") -> dict:
    """{"max_new_tokens", "longest_id", "longest_bytes"}: the budget that fits the longest expected
    answer (see the module docstring for the rule)."""
    from qa4d.bench.models.baselines import obedient_reply

    longest_id, longest = "", 0
    for it in items:
        n = len(obedient_reply(it, bench.answer_form(it, "do")).encode("utf-8"))
        if n > longest:
            longest_id, longest = it.id, n
    budget = max(MIN_BUDGET, math.ceil(longest * 1.5) + 16)
    budget = 16 * math.ceil(budget / 16) + (REASONING_BUDGET if mode == "cot" else 0)
    return {"max_new_tokens": budget, "longest_id": longest_id, "longest_bytes": longest}


def metric_names(items) -> tuple[dict[str, str], dict[str, str]]:
    """({task: metric name}, {category: metric name}), sorted by name; raises ExportError when two
    names collide."""
    out = []
    for prefix, values in (("task", {it.task for it in items}), ("category", {it.category for it in items if it.category})):
        names: dict[str, str] = {}
        for v in sorted(values):
            m = f"{prefix}_{slug(v)}"
            clash = [k for k, n in names.items() if n == m]
            if clash:
                raise ExportError(f"{prefix}s {clash[0]!r} and {v!r} both become the metric name {m!r}")
            names[v] = m
        out.append(names)
    return out[0], out[1]


def task_yaml(task: str, data_file: Path, max_new_tokens: int, metrics: list[str]) -> str:
    # Written by hand, not yaml.dump: lmms-eval's `!function` tag must stay a bare tag.
    lines = [
        f"task: {json.dumps(task)}",
        "dataset_path: json",
        "dataset_kwargs:",
        "  data_files:",
        f"    test: {json.dumps(str(data_file))}",
        "test_split: test",
        "output_type: generate_until",
        "doc_to_visual: !function utils.doc_to_visual",
        "doc_to_text: !function utils.doc_to_text",
        "doc_to_target: !function utils.doc_to_target",
        "generation_kwargs:",
        f"  max_new_tokens: {int(max_new_tokens)}",
        "  temperature: 0",
        "  do_sample: false",
        "process_results: !function utils.process_results",
        "# one metric per reported group: every item, each task, each category (mean item score)",
        "metric_list:",
    ]
    for m in metrics:
        lines += [f"  - metric: {m}", "    aggregation: !function utils.aggregate_results", "    higher_is_better: true"]
    lines += [
        "lmms_eval_specific_kwargs:",
        "  default:",
        '    pre_prompt: ""',
        '    post_prompt: ""',
        "metadata:",
        "  version: 2.0",
        "",
    ]
    return "\n".join(lines)


def export(dataset: Path, out: Path, task_name: str | None = None, max_new_tokens: int | None = None,
           split: str | None = None, mode: str = "do", warn=None) -> dict:
    """Export; returns {"task", "docs", "yaml", "max_new_tokens", "longest_answer", "metrics"}.
    Raises ExportError or BenchmarkFormatError on bad input."""
    from qa4d._io import write_text_atomic
    from qa4d.bench.benchmarks.qa4d import QA4D
    from qa4d.bench.scoring import json_safe

    bench = QA4D()
    samples = samples_file(dataset, split)
    items = bench.load(samples)
    if not items:
        raise ExportError(f"{samples}: holds no samples")
    task = task_name or _task_name(samples)
    need = generation_budget(items, bench, mode)
    if max_new_tokens is None:
        max_new_tokens = need["max_new_tokens"]
    elif max_new_tokens < 1:
        raise ExportError(f"--max-new-tokens must be a positive number of tokens, got {max_new_tokens}")
    elif max_new_tokens < need["longest_bytes"] and warn is not None:
        warn(f"warning: --max-new-tokens {max_new_tokens} may cut the longest expected answer "
             f"(item {need['longest_id']}, up to {need['longest_bytes']} tokens); the computed budget is "
             f"{need['max_new_tokens']}")
    by_task, by_category = metric_names(items)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    docs = []
    for it in items:
        meta = {k: v for k, v in it.meta.items() if k != "dataset_root"}
        docs.append({
            "id": it.id, "task": it.task, "category": it.category or "", "question": it.question,
            "prompt": bench.build_prompt(it, mode), "answer": it.answer, "answer_format": it.answer_format,
            "media": list(it.media),
            "options_json": json.dumps(it.options, ensure_ascii=False),
            "meta_json": json.dumps(json_safe(meta), ensure_ascii=False, sort_keys=True),
            "task_metric": by_task[it.task], "category_metric": by_category.get(it.category, ""),
        })
    data_file = (out / "test.jsonl").resolve()
    write_text_atomic(data_file, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    write_text_atomic(out / "utils.py", UTILS_SOURCE.read_text(encoding="utf-8"))
    dataset_root = samples.resolve().parent.parent
    write_text_atomic(out / "qa4d_task.json", json.dumps({"task": task, "media_root": str(dataset_root)}, indent=2) + "\n")
    metrics = [OVERALL_METRIC, *by_task.values(), *by_category.values()]
    yaml_path = out / f"{task}.yaml"
    write_text_atomic(yaml_path, task_yaml(task, data_file, max_new_tokens, metrics))
    return {"task": task, "docs": len(docs), "yaml": str(yaml_path), "max_new_tokens": int(max_new_tokens),
            "longest_answer": {"id": need["longest_id"], "bytes": need["longest_bytes"]}, "metrics": metrics}


def run(args: argparse.Namespace) -> int:
    from qa4d.bench.benchmarks.base import BenchmarkFormatError

    def warn(msg: str) -> None:
        print(msg, file=sys.stderr)

    try:
        info = export(args.dataset, args.out, args.task_name, args.max_new_tokens, args.split, args.mode, warn=warn)
    except (BenchmarkFormatError, ExportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(info))
    return 0
