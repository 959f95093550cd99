"""MultiSPA benchmark (Multi-SpatialMLLM, Xu et al.): multi-frame spatial questions, InternVL-style JSONL.

Annotations: one `.jsonl` file, or a directory searched recursively for `*.jsonl` (the authors
write one file per question type, e.g. `camera_movement/.../displacement_vector_val.jsonl`).
Each line: `id`, `image` (path or list of paths, relative to `--media-root`), the question in
`text` or in the first human turn of `conversations`, `question_type`, `gt_value`, optionally
`height_list` / `width_list` (pixels per image).

The answer format follows `gt_value`, scored as the paper's sec. 3.3 prescribes:
- string (qualitative: "left", "up", an option label "D"): exact match after normalisation;
- number: a scalar, correct when |pred - gt| <= 20% |gt|; distances and depths are in mm, angles
  (question types containing "angle") in degrees, as the questions ask;
- 3 numbers: a displacement vector in METRES (the question asks for mm; answers are converted),
  correct when ||pred - gt|| <= 20% ||gt||;
- 2 numbers: a pixel coordinate normalised to 0-1000 (the paper's Eq. 1), correct when within 5%
  of the image width in pixels (of the last image; 1000 units wide when sizes are not given).

Prompt: the question (which states the answer's format and unit) plus one line that restates the
form the scorer reads: the value inside backticks, in mm / degrees / mm vectors / 0-1000 points
(qa4d/answers/instructions.json, section "multispa").

Ids restart per file, so items from a directory are named `<relative file path without .jsonl>/<id>`.
Category: the record's `category` if any, else the first directory below the annotations root (or
the file stem).
"""

from __future__ import annotations

import re
from pathlib import Path

from qa4d.answers import get_format
from qa4d.bench.benchmarks.base import (
    AnswerForm,
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    answer_form,
    check_unique_ids,
    item_unit,
    read_jsonl,
    require,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem

def _question(rec: dict, path: Path, where: str) -> str:
    if isinstance(rec.get("text"), str) and rec["text"].strip():
        return rec["text"]
    conv = rec.get("conversations")
    if isinstance(conv, list):
        for turn in conv:
            if isinstance(turn, dict) and turn.get("from") in ("human", "user") and isinstance(turn.get("value"), str):
                return turn["value"]
    raise BenchmarkFormatError(path, where, "text", "missing (no `text` and no human turn in `conversations`)")


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


@register_benchmark("multispa")
class MultiSPA(Benchmark):
    default_frames = 2
    media_kind = "images"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        root = Path(annotations)
        if root.is_dir():
            files = sorted(root.rglob("*.jsonl"))
            if not files:
                raise BenchmarkFormatError(root, None, None, "holds no .jsonl file")
        else:
            files = [root]
        items: list[BenchItem] = []
        for path in files:
            prefix = str(path.relative_to(root).with_suffix("")) + "/" if root.is_dir() else ""
            default_cat = (path.relative_to(root).parts[0] if root.is_dir() and len(path.relative_to(root).parts) > 1
                           else path.stem)
            for lineno, rec in read_jsonl(path):
                items.append(self._item(rec, path, f"line {lineno}", prefix, default_cat))
        check_unique_ids(items, root)
        return items

    def _item(self, rec, path: Path, where: str, prefix: str, default_cat: str) -> BenchItem:
        rid = require(rec, "id", path, where, (str, int))
        qtype = require(rec, "question_type", path, where, str)
        gt = require(rec, "gt_value", path, where, (str, int, float, list))
        images = require(rec, "image", path, where, (str, list))
        images = [images] if isinstance(images, str) else [str(x) for x in images]
        question = _question(rec, path, where)
        meta: dict = {"question_type": qtype, "gt_value": gt}
        widths, heights = rec.get("width_list"), rec.get("height_list")
        if isinstance(gt, str):
            fmt, answer = "free", gt
        elif _is_number(gt):
            fmt, answer = "scalar", repr(float(gt))
            meta["unit"] = meta["response_unit"] = "deg" if "angle" in qtype else "mm"
        elif isinstance(gt, list) and all(_is_number(v) for v in gt) and len(gt) in (2, 3):
            if len(gt) == 3:
                fmt = "vector"
                meta.update(unit="m", response_unit="mm", dim=3)
            else:
                fmt = "coord"
                w = float(widths[-1]) if isinstance(widths, list) and widths else 1000.0
                h = float(heights[-1]) if isinstance(heights, list) and heights else 1000.0
                meta.update(image_size=[h, w], coord_scale=1000.0, coords="per_mille")
            answer = repr([float(v) for v in gt])
        else:
            raise BenchmarkFormatError(path, where, "gt_value",
                                       f"expected text, a number, or a list of 2 or 3 numbers, got {gt!r:.80}")
        return BenchItem(
            id=f"{prefix}{rid}",
            benchmark="multispa",
            task=qtype,
            question=question,
            answer=answer,
            answer_format=fmt,
            options=None,
            category=str(rec.get("category") or default_cat),
            media=images,
            media_kind="images",
            groups={},
            meta=meta,
        )

    def answer_form(self, item: BenchItem, mode: str = "do") -> AnswerForm:
        """The form the question asks for, restated in one line: the value inside backticks (the
        authors' convention), numbers in the question's unit (mm, or degrees for angles), vectors in
        mm, points normalised to 0-1000."""
        fmt = get_format(item.answer_format)
        return answer_form(item.answer_format, mode, unit=item_unit(item) if fmt.has_unit else None,
                           coords=item.meta.get("coords") if fmt.has_coords else None, wording="multispa")

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        # The question states the answer format; one line restates the form and unit the scorer
        # reads. Its InternVL "<image>" placeholders are dropped: our model clients send the images
        # before the text, in order, and the "Image-k:" labels still name them.
        check_mode(mode)
        q = re.sub(r"[ \t]*<image>[ \t]*", " ", item.question).strip()
        return f"{q}\n{self.answer_form(item, mode).instruction}"
