"""lmms-eval task functions for an exported qa4d benchmark (copied as utils.py into the task folder).

The task YAML points at these with `!function utils.<name>`. Scoring imports qa4d (install it in
the lmms-eval environment) so lmms-eval and `qa4d score` read and score answers identically.
Media are read from the dataset root recorded at export in `qa4d_task.json` next to this file;
the environment variable QA4D_MEDIA_ROOT overrides it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _config() -> dict:
    return json.loads((_HERE / "qa4d_task.json").read_text(encoding="utf-8"))


def _media_root() -> Path:
    return Path(os.environ.get("QA4D_MEDIA_ROOT") or _config()["media_root"])


def _item(doc: dict):
    from qa4d.bench.types import BenchItem

    return BenchItem(
        id=doc["id"], benchmark="qa4d", task=doc["task"], question=doc["question"], answer=doc["answer"],
        answer_format=doc["answer_format"], options=json.loads(doc["options_json"]),
        category=doc.get("category") or None, media=list(doc["media"]), media_kind="images",
        groups={}, meta=json.loads(doc["meta_json"]),
    )


def doc_to_visual(doc: dict) -> list:
    """The sample's frames as RGB PIL images, in the order the model sees them."""
    from PIL import Image

    from qa4d._io import resolve_inside

    root = _media_root()
    out = []
    for i, rel in enumerate(doc["media"]):
        try:
            path = resolve_inside(root, rel)
        except ValueError as e:
            raise ValueError(f"record {doc.get('id')!r}: media[{i}]: {e}") from None
        with Image.open(path) as im:
            out.append(im.convert("RGB"))
    return out


def doc_to_text(doc: dict, lmms_eval_specific_kwargs: dict | None = None) -> str:
    """The prompt qa4d's own evaluation uses (direct output), with optional pre/post prompts."""
    kw = lmms_eval_specific_kwargs or {}
    return f"{kw.get('pre_prompt', '')}{doc['prompt']}{kw.get('post_prompt', '')}"


def doc_to_target(doc: dict) -> str:
    return doc["answer"]


def process_results(doc: dict, results: list[str]) -> dict:
    """Score the model's first generation. The same record goes to every metric the item counts
    in: `qa4d_accuracy` (all items), its task's and its category's metric (named in the doc), so
    lmms-eval reports one number per task and per category as well as the overall one."""
    from qa4d.bench.extract import extract
    from qa4d.bench.scoring import score_item

    item = _item(doc)
    response = results[0] if results else ""
    ex = extract(response, item)
    correct, score, _ = score_item(item, ex)
    record = {"id": doc["id"], "task": doc["task"], "category": doc.get("category") or "",
              "score": float(score), "parsed": ex.value is not None}
    out = {"qa4d_accuracy": record}
    for key in ("task_metric", "category_metric"):
        if doc.get(key):
            out[doc[key]] = record
    return out


def aggregate_results(results: list[dict]) -> float:
    """Mean item score of one metric's items (accuracy for choice answers, average Jaccard for
    tracks), as `qa4d score` reports it overall, per task and per category."""
    if not results:
        return float("nan")
    return sum(r["score"] for r in results) / len(results)
