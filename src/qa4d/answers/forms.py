"""Answer forms: what a prompt asks a reply to look like, rendered from instructions.json.

An `AnswerForm` is the contract between the instruction a model reads, the extractor and scorer
that read its reply, and the `obedient` baseline that writes it. The instruction texts are data:
instructions.json holds, per wording ("generic", "multispa"), per format and per prompt mode
("do" = direct output, "cot" = chain of thought), the place the answer goes and the text; a
format defined outside this package brings its own (`AnswerFormat.instructions`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from typing import Any, Mapping

from qa4d.answers.registry import get_format

PROMPT_MODES = ("do", "cot")
_FORMS = json.loads(Path(__file__).with_name("instructions.json").read_text(encoding="utf-8"))
ANSWER_PLACES = ("alone", "final_line", "backticks", "json")
COORD_SPACES = tuple(_FORMS["coords"])  # "unit" ([0, 1]), "per_mille" (0-1000), "pixels"
FINAL_LINE = "Therefore, the final answer is: "
_NOT_WORDINGS = ("_about", "units", "unit_default", "coords")  # instructions.json sections that are not wordings


def check_mode(mode: str) -> None:
    if mode not in PROMPT_MODES:
        raise ValueError(f"prompt mode must be one of {PROMPT_MODES}, got {mode!r}")


@dataclass(frozen=True)
class AnswerForm:
    """The answer a prompt asks for: the contract between the instruction the model reads, the
    extractor and scorer that read the reply, and the `obedient` baseline that writes it.

    fmt:         the item's answer format (mc, yesno, number, free, scalar, vector, coord, track)
    mode:        "do" (direct output) or "cot" (chain of thought)
    place:       where the answer goes: "alone" (the reply is the answer and nothing else),
                 "final_line" (reasoning, then the last line "Therefore, the final answer is: X"),
                 "backticks" (the value inside backticks, after any reasoning), "json" (a JSON
                 list of per-frame objects, after any reasoning)
    instruction: the text the model reads (rendered from the fields below for qa4d's own wording;
                 VLM4D's is the authors' string)
    unit:        number / scalar / vector: the unit the value is asked in; None = the unit the
                 question names (the ground truth's own unit)
    coords:      coord / track: "unit" (x, y normalised to [0, 1], origin top-left), "per_mille"
                 (normalised to 0-1000, origin top-left) or "pixels" (of the frames shown)
    """

    fmt: str
    mode: str
    place: str
    instruction: str
    unit: str | None = None
    coords: str | None = None

    def __post_init__(self):
        check_mode(self.mode)
        if self.place not in ANSWER_PLACES:
            raise ValueError(f"answer place must be one of {ANSWER_PLACES}, got {self.place!r}")
        if self.coords is not None and self.coords not in COORD_SPACES:
            raise ValueError(f"coords must be one of {COORD_SPACES}, got {self.coords!r}")


def unit_name(unit: str | None) -> str:
    """How an instruction names `unit` ("millimetres"; None: "the unit the question asks for")."""
    if unit is None:
        return _FORMS["unit_default"]
    return _FORMS["units"].get(unit, unit)


def _entry(fmt: str, mode: str, wording: str) -> list[str]:
    """[place, text] of `fmt` in `mode` under `wording`."""
    own = get_format(fmt).instructions
    table = own.get(wording, {}) if own is not None else _FORMS[wording].get(fmt, {})
    if mode not in table:
        known = [n for n in _FORMS[wording]]
        raise ValueError(f"no {wording} answer form for format {fmt!r} (known: {', '.join(known)})")
    return table[mode]


def answer_form(fmt: str, mode: str, *, unit: str | None = None, coords: str | None = None,
                wording: str = "generic") -> AnswerForm:
    """The AnswerForm of `fmt` in `mode` with qa4d's wording (instructions.json, section
    `wording`: "generic", or "multispa" for MultiSPA's scalar/vector/coord/free lines)."""
    check_mode(mode)
    if wording not in _FORMS:
        raise ValueError(f"unknown answer wording {wording!r}")
    place, text = _entry(fmt, mode, wording)
    if get_format(fmt).has_coords and coords is None:
        raise ValueError(f"an answer form for {fmt!r} needs its coordinate space (coords=)")
    text = text.replace("{unit}", unit_name(unit))
    if coords is not None:
        text = text.replace("{coords}", _FORMS["coords"][coords])
    return AnswerForm(fmt, mode, place, text, unit=unit, coords=coords)


def family_wording(family: str | None, fmt: str) -> str:
    """The wording a record of `family` asks for a `fmt` answer in: the family's own section of
    instructions.json when it has that format ("multispa": the value in backticks, as [MS]),
    else "generic"."""
    if not family or family in _NOT_WORDINGS or family not in _FORMS:
        return "generic"
    own = get_format(fmt).instructions
    table = own.get(family) if own is not None else _FORMS[family].get(fmt)
    return family if table else "generic"


def record_form(record: Mapping[str, Any], mode: str = "do") -> AnswerForm:
    """The answer form a generated record (a samples.jsonl line) asks for in `mode`: its family's
    wording (`family_wording`), the unit its question asks for (meta.response_unit, else
    meta.unit) and the coordinate space its scorer reads (what the format's `bench_fields` sets in
    meta.coords: track "unit", coord meta.space). `qa4d eval` on a qa4d split and the trainer
    exports both ask with it."""
    fmt = get_format(str(record["answer_format"]))
    meta = dict(record.get("meta") or {})
    fmt.bench_fields(dict(record), meta)   # the item's meta as the qa4d benchmark builds it
    unit = (meta.get("response_unit") or meta.get("unit")) if fmt.has_unit else None
    coords = meta.get("coords") if fmt.has_coords else None
    return answer_form(fmt.name, mode, unit=unit, coords=coords,
                       wording=family_wording(record.get("family"), fmt.name))
