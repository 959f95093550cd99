"""Write a qa4d benchmark split as an lmms-eval task folder.

Reads DATASET (a split directory such as DATASET/bench, or its samples.jsonl).
Writes into --out DIR (each file atomically):
  <task>.yaml       the task config: local JSON data, generate_until, doc_to_visual / doc_to_text /
                    process_results / aggregation as `!function utils.*`, metric qa4d_accuracy
  utils.py          the task functions (they import qa4d to score exactly as `qa4d score` does)
  test.jsonl        one doc per sample: id, task, category, question, prompt (qa4d's direct-output
                    prompt), answer, answer_format, media, options_json, meta_json
  qa4d_task.json    the dataset root the media paths are relative to (QA4D_MEDIA_ROOT overrides)
Copy DIR into lmms_eval/tasks/ (or pass --include_path DIR) and run with --tasks <task>.
The YAML names test.jsonl by its absolute path: re-export after moving the folder.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

UTILS_SOURCE = Path(__file__).with_name("lmms_eval_utils.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="qa4d split directory (e.g. DATASET/bench) or its samples.jsonl")
    parser.add_argument("--out", required=True, type=Path, help="output task folder")
    parser.add_argument("--task-name", default=None, help="lmms-eval task name (default: qa4d_<dataset name>_<split>)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="generation budget (default 64)")


def _task_name(samples: Path) -> str:
    split_dir = samples.resolve().parent
    raw = f"qa4d_{split_dir.parent.name}_{split_dir.name}"
    return re.sub(r"[^A-Za-z0-9_]+", "_", raw).strip("_").lower()


def task_yaml(task: str, data_file: Path, max_new_tokens: int) -> str:
    # Written by hand, not yaml.dump: lmms-eval's `!function` tag must stay a bare tag.
    return "\n".join([
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
        "metric_list:",
        "  - metric: qa4d_accuracy",
        "    aggregation: !function utils.aggregate_results",
        "    higher_is_better: true",
        "lmms_eval_specific_kwargs:",
        "  default:",
        '    pre_prompt: ""',
        '    post_prompt: ""',
        "metadata:",
        "  version: 1.0",
        "",
    ])


def export(dataset: Path, out: Path, task_name: str | None = None, max_new_tokens: int = 64) -> dict:
    """Export; returns {"task", "docs", "yaml"}. Raises BenchmarkFormatError on bad samples."""
    from qa4d.bench.benchmarks.qa4d import QA4D, samples_path
    from qa4d._io import write_text_atomic as atomic_write_text
    from qa4d.bench.scoring import json_safe

    bench = QA4D()
    samples = samples_path(dataset)
    items = bench.load(samples)
    task = task_name or _task_name(samples)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    docs = []
    for it in items:
        meta = {k: v for k, v in it.meta.items() if k != "dataset_root"}
        docs.append({
            "id": it.id, "task": it.task, "category": it.category or "", "question": it.question,
            "prompt": bench.build_prompt(it, "do"), "answer": it.answer, "answer_format": it.answer_format,
            "media": list(it.media),
            "options_json": json.dumps(it.options, ensure_ascii=False),
            "meta_json": json.dumps(json_safe(meta), ensure_ascii=False, sort_keys=True),
        })
    data_file = (out / "test.jsonl").resolve()
    atomic_write_text(data_file, "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs))
    atomic_write_text(out / "utils.py", UTILS_SOURCE.read_text(encoding="utf-8"))
    dataset_root = samples.resolve().parent.parent
    atomic_write_text(out / "qa4d_task.json", json.dumps({"task": task, "media_root": str(dataset_root)}, indent=2) + "\n")
    yaml_path = out / f"{task}.yaml"
    atomic_write_text(yaml_path, task_yaml(task, data_file, max_new_tokens))
    return {"task": task, "docs": len(docs), "yaml": str(yaml_path)}


def run(args: argparse.Namespace) -> int:
    from qa4d.bench.benchmarks.base import BenchmarkFormatError

    try:
        info = export(args.dataset, args.out, args.task_name, args.max_new_tokens)
    except BenchmarkFormatError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(info))
    return 0
