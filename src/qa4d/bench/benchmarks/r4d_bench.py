"""R4D-Bench (4D-RGPT supplementary): region-based 4D questions with Set-of-Marks inputs.

Annotations: `test.json`, a list of records `id`, `benchmark` (the source benchmark, VLM4D or
STI-Bench), `task`, `question`, `options` (a list, or an object keyed by letter), `answer` (the
correct option's TEXT), `video`, `som_image` (the first frame with numbered region marks). Both
paths are relative to `--media-root`. `media` holds the video (what frame samplers read); the
Set-of-Marks image is the item's one prefix image (`prefix_images`, also `meta["som_image"]`): the
model sees it first, then the sampled frames, and the prompt says which image is the marked one.
`check_media` checks both. `som_image` may be null (qa4d's `export --format r4d-bench` writes
records without marks so): no prefix image, and the prompt names the frames only. Groupings: the source benchmark and the static / dynamic split of the 9 categories
(`r4d_bench.json`; a task is matched on letters and digits against a category's name, abbreviation
or aliases, so `speed_acceleration` is "Speed & Acceleration"; a task outside them is reported
with split "other"). Accuracy per split is over its items, i.e. the mean of the per-category
accuracies weighted by item counts, as the paper's Sta / Dyn / Avg columns.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from qa4d.bench.benchmarks.base import (
    Benchmark,
    BenchmarkFormatError,
    check_mode,
    check_unique_ids,
    format_options,
    letter_of,
    letter_options,
    read_json,
    require,
)
from qa4d.bench.registry import register_benchmark
from qa4d.bench.types import BenchItem

_DATA = json.loads(Path(__file__).with_name("r4d_bench.json").read_text(encoding="utf-8"))


def _norm(name: str) -> str:
    """Letters and digits only, lower case: "Speed & Acceleration" == "speed_acceleration"."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


def _category(task: str) -> tuple[str, str]:
    t = _norm(task)
    for c in _DATA["categories"]:
        if t in {_norm(n) for n in (c["name"], c["abbr"], *c.get("aliases", ()))}:
            return c["name"], c["split"]
    return task, "other"


@register_benchmark("r4d-bench")
class R4DBench(Benchmark):
    default_frames = 16
    media_kind = "video"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        path = Path(annotations)
        if path.is_dir():
            path = path / "test.json"
        data = read_json(path)
        if not isinstance(data, list):
            raise BenchmarkFormatError(path, None, None, f"expected a JSON list of questions, got {type(data).__name__}")
        items = []
        for i, rec in enumerate(data):
            rid = require(rec, "id", path, i, (str, int))
            source = require(rec, "benchmark", path, i, str)
            task = require(rec, "task", path, i, str)
            question = require(rec, "question", path, i, str)
            options = letter_options(require(rec, "options", path, i, (list, dict)), path, i, "options")
            answer = require(rec, "answer", path, i, (str, int, float))
            video = require(rec, "video", path, i, str)
            if "som_image" not in rec:
                raise BenchmarkFormatError(path, i, "som_image", "missing (null when the item has no marks)")
            som = rec["som_image"] if rec["som_image"] is None else require(rec, "som_image", path, i, str)
            category, split = _category(task)
            items.append(BenchItem(
                id=str(rid),
                benchmark="r4d-bench",
                task=task,
                question=question,
                answer=letter_of(answer, options, path, i, "answer"),
                answer_format="mc",
                options=options,
                category=category,
                media=[video],
                media_kind="video",
                prefix_images=[som] if som is not None else [],
                groups={"source_benchmark": source, "split": split},
                meta={"answer_text": str(answer), "som_image": som, "video": video},
            ))
        check_unique_ids(items, path)
        return items

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        """Names the images first: the questions point at marked regions, so the model must know
        which image carries the marks (the runner sends the prefix image before the frames).
        An item without a Set-of-Marks image (som_image null, qa4d exports) is shown the frames only."""
        check_mode(mode)
        if not item.prefix_images:
            shown = (f"The {frames} images are" if frames and frames > 1 else
                     "The image is a frame" if frames == 1 else "The images are")
            intro = shown + (" sampled from the video." if frames == 1 else " frames sampled uniformly from the video, in order.")
            return "\n".join([intro, item.question.strip(), format_options(item.options or {}),
                              self.answer_form(item, mode).instruction])
        if frames == 1:
            shown = "the second image is a frame sampled from the video."
        else:
            shown = (f"the next {frames} images are" if frames else "the images after it are") + \
                " frames sampled uniformly from the video, in order."
        intro = ("The first image is the first frame of the video with numbered marks on the regions the "
                 f"question refers to (Set-of-Marks); {shown}")
        return "\n".join([intro, item.question.strip(), format_options(item.options or {}),
                          self.answer_form(item, mode).instruction])
