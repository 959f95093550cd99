"""The model-facing text of a sample (prompt and answer) for every training export.

Datasets are read through `qa4d.dataset` (records, schema, splits); the export stage never goes
through `qa4d.engine`.

`render_prompt` and `render_answer` produce the user and assistant text every training export uses;
their layout (option lines, answers, image lines) lives in `templates/prompts.json`, the answer
instruction in the answer-format registry (`qa4d.answers.forms.record_form`), as for `qa4d eval`.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

from qa4d.answers.forms import record_form
from qa4d._io import write_bytes_atomic, write_text_atomic  # noqa: F401 (re-exported for export/)

PROMPTS_PATH = Path(__file__).resolve().parent / "templates" / "prompts.json"


# ---------------------------------------------------------------------------------------------
# model-facing text


@lru_cache(maxsize=1)
def prompt_templates() -> dict[str, Any]:
    return json.loads(PROMPTS_PATH.read_text(encoding="utf-8"))


def sorted_options(record: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(letter, text) pairs of an mc record in letter order; [] for other formats."""
    opts = record.get("options") or {}
    return sorted(opts.items())


def render_prompt(record: Mapping[str, Any]) -> str:
    """The user text of a sample without image placeholders: the question, the options as
    'A. ...' lines for multiple choice, then the one-line instruction of the record's answer form
    (qa4d.answers.forms.record_form, direct-output mode): the very instruction `qa4d eval` shows
    for the record, from the answer-format registry (answers/instructions.json)."""
    t = prompt_templates()
    fmt = record["answer_format"]
    lines = [record["question"].strip()]
    if fmt == "mc":
        lines += [t["option_line"].format(letter=k, text=v) for k, v in sorted_options(record)]
    lines.append(record_form(record, "do").instruction)
    return "\n".join(lines)


def render_answer(record: Mapping[str, Any]) -> str:
    """The assistant text of a sample: the option letter alone for multiple choice ('B': what the
    instruction asks for, VLM4D's Direct Output), else the record's answer (already in its family's
    stated form). Other layouts (e.g. '{letter}. {text}') are one edit of templates/prompts.json."""
    t = prompt_templates()
    fmt = record["answer_format"]
    if fmt == "mc":
        return t["answer"]["mc"].format(letter=record["answer"], text=record["options"][record["answer"]])
    return t["answer"][fmt].format(answer=record["answer"])


def image_lines(record: Mapping[str, Any], placeholder: str, style: str = "default") -> list[str]:
    """One line per media item, in media order, e.g. 'Frame 2: <image>' (templates/prompts.json
    "image_line"; `style` picks a per-format override when the file has one), or 'Image-2: <image>'
    for a record whose meta.media_kind is "images" (an image set: its questions name Image-k). The
    Set-of-Marks prefix image of a record (meta.som_image, r4d's marked first frame, media[0]) gets
    the "marked" line ('Frame 1 (numbered marks): <image>'); the numbering stays the images'
    positions, as the questions count frames ("1.25 s (frame 4)" is image 4)."""
    lines = prompt_templates()["image_line"]
    tpl = lines.get(style) or lines["default"]
    meta = record.get("meta") or {}
    if meta.get("media_kind") == "images" and "images" in lines:
        tpl = lines["images"]       # image sets: their questions name "Image-k"
    if meta.get("times_hidden") and "{t}" in tpl:
        tpl = lines["default"]      # the clip's times are the answer (timebench): never in the prompt
    som = meta.get("som_image")
    marked = lines.get("marked", tpl)
    return [
        (marked if som is not None and rel == som else tpl).format(placeholder=placeholder, n=i + 1, frame=fr, t=ts)
        for i, (rel, fr, ts) in enumerate(zip(record["media"], record["frame_indices"], record["timestamps"]))
    ]


# ---------------------------------------------------------------------------------------------
# atomic writes


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2) -> None:
    """JSON text (UTF-8, `indent`), written with qa4d._io's atomic write."""
    write_text_atomic(path, json.dumps(data, ensure_ascii=False, indent=indent) + "\n")
