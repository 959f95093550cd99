"""VLM4D (Zhou et al.): multiple-choice questions on real and synthetic videos.

Annotations: `real_mc.json` and/or `synthetic_mc.json` (a directory holding them, or one file).
Each record: `id`, `video` (URL on the authors' dataset host), `question_type`, `question`,
`choices` {"A".."D": text or integer}, `answer` = the correct choice's TEXT (may be an integer).

- ids restart in each file, so an item's id is `<file stem>/<id>` ("real_mc/validation_1").
- media: the video path after `resolve/main/` in the URL ("videos_real/davis/x.mp4"), relative
  to `--media-root` (the layout of the authors' dataset repository).
- split: real (real_mc) or synthetic (synthetic_mc), read from the file name.
- view (real only): ego-centric for Ego4D clips, exo-centric for DAVIS and YouTube-VOS clips. We
  could not find the authors' statistics script; in the published files the Ego4D clips are exactly
  ids validation_923..validation_1371 of real_mc.json, so "by id" and "by source" agree (449 ego,
  922 exo). The rule used is the source directory, which does not depend on record order.
- synthetic false-positive: synthetic questions whose answer is "no <object> there" (the paper's
  counterfactual questions); the other synthetic questions are "synthetic directional".
- task: qa4d's keyword heuristic (false-positive / counting / rotational / translational); the
  files carry no category labels, so this is not the paper's manual categorisation.
- A few records repeat a choice text (real_mc validation_633: C and D both "away from the
  camera"); the answer letter is the first match and scoring accepts any option with the same text.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from qa4d.bench.benchmarks.base import (
    AnswerForm,
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

_DATA = json.loads((Path(__file__).with_name("vlm4d.json")).read_text(encoding="utf-8"))
FILES = ("real_mc.json", "synthetic_mc.json")


def _media_from_url(url: str) -> str:
    marker = "resolve/main/"
    return url.split(marker, 1)[1] if marker in url else url.split("://", 1)[-1].split("/", 1)[-1]


def _task(question: str, options: dict[str, str], answer_text: str) -> str:
    if re.match(_DATA["false_positive_answer_regex"], answer_text.strip().lower()):
        return "false-positive"
    if re.match(_DATA["counting_question_regex"], question.strip().lower()):
        return "counting"
    blob = " ".join([question, *options.values()]).lower()
    if re.search(_DATA["rotational_regex"], blob):
        return "rotational"
    return "translational"


@register_benchmark("vlm4d")
class VLM4D(Benchmark):
    default_frames = int(_DATA["default_frames"])
    media_kind = "video"

    def load(self, annotations: Path, media_root: Path | None = None) -> list[BenchItem]:
        annotations = Path(annotations)
        if not annotations.exists():
            raise BenchmarkFormatError(annotations, None, None, "file not found")
        if annotations.is_dir():
            files = [annotations / f for f in FILES if (annotations / f).exists()]
            if not files:
                raise BenchmarkFormatError(annotations, None, None, f"holds none of {', '.join(FILES)}")
        else:
            files = [annotations]
        items: list[BenchItem] = []
        for path in files:
            items.extend(self._load_file(path))
        check_unique_ids(items, annotations)
        return items

    def _load_file(self, path: Path) -> list[BenchItem]:
        stem = path.stem
        if "synthetic" in stem:
            split = "synthetic"
        elif "real" in stem:
            split = "real"
        else:
            raise BenchmarkFormatError(path, None, None, "file name must contain 'real' or 'synthetic' (real_mc.json / synthetic_mc.json)")
        data = read_json(path)
        if not isinstance(data, list):
            raise BenchmarkFormatError(path, None, None, f"expected a JSON list of questions, got {type(data).__name__}")
        items = []
        for i, rec in enumerate(data):
            rid = require(rec, "id", path, i, (str, int))
            question = require(rec, "question", path, i, str)
            video = require(rec, "video", path, i, str)
            choices = require(rec, "choices", path, i, dict)
            answer = require(rec, "answer", path, i, (str, int, float))
            options = letter_options(choices, path, i, "choices")
            letter = letter_of(answer, options, path, i, "answer")
            media = _media_from_url(video)
            answer_text = str(answer)
            groups = {"split": split}
            if split == "real":
                source = media.split("/")[-2] if "/" in media else ""
                groups["view"] = "ego-centric" if source in _DATA["ego_source_dirs"] else "exo-centric"
            else:
                fp = re.match(_DATA["synthetic_false_positive_answer_regex"], answer_text.strip().lower())
                groups["synthetic_type"] = "synthetic false-positive" if fp else "synthetic directional"
            items.append(BenchItem(
                id=f"{stem}/{rid}",
                benchmark="vlm4d",
                task=_task(question, options, answer_text),
                question=question,
                answer=letter,
                answer_format="mc",
                options=options,
                category=split,
                media=[media],
                media_kind="video",
                groups=groups,
                meta={"source_id": str(rid), "file": path.name, "answer_text": answer_text,
                      "question_type": rec.get("question_type"), "video_url": video},
            ))
        return items

    def answer_form(self, item: BenchItem, mode: str = "do") -> AnswerForm:
        """The authors' instruction: the letter alone (direct output) or reasoning ending in
        "Therefore, the final answer is: $LETTER" (chain of thought)."""
        check_mode(mode)
        place, text = _DATA["instructions"][mode]
        return AnswerForm("mc", mode, place, text.format(letters=" or ".join(item.options or {})))

    def build_prompt(self, item: BenchItem, mode: str = "do", frames: int | None = None) -> str:
        check_mode(mode)
        return _DATA["prompt"].format(
            question=item.question,
            options=format_options(item.options or {}, _DATA["option_style"]),
            instruction=self.answer_form(item, mode).instruction,
        )
