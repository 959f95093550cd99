"""Question and answer templates: one JSON file per task in its family's templates/ folder.

A template is a string with slots in braces ("Between {frame1} and {frame2}, how does {obj}
move?"); `{{` and `}}` are literal braces. The file format, the slots and the canonical text of
point tracks are documented in docs/templates.md.
"""

from __future__ import annotations

import json
import math
import re
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.answers import format_names, formats

__all__ = [
    "ANSWER_FORMATS",
    "QUESTION_FORMATS",
    "SLOTS",
    "Template",
    "TemplateError",
    "Templates",
    "fill",
    "format_point",
    "format_track",
    "load_templates",
    "parse_track",
    "slots_of",
]

# the answer formats (qa4d.answers) questions may be written in; mc answers are letters, yes/no
# answers "yes"/"no", the others have answer templates (AnswerFormat.answer_template)
QUESTION_FORMATS = format_names()
ANSWER_FORMATS = tuple(f.name for f in formats() if f.answer_template)


def _templated_formats() -> tuple[str, ...]:
    """The registered formats whose answer text a template renders (now, plug-ins included)."""
    return tuple(f.name for f in formats() if f.answer_template)
SLOTS = (
    "obj", "obj1", "obj2", "obj3",
    "frame", "frame1", "frame2",
    "label", "point", "query_frame", "target_frames", "answer",
)

_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that cannot be loaded or filled; the message names task, list, index and slot."""


class Template(str):
    """A template string that knows where it comes from, for error messages."""

    where: str = ""
    checked: bool = False

    def __new__(cls, text: str, where: str = "") -> "Template":
        obj = super().__new__(cls, text)
        obj.where = where
        return obj


def slots_of(template: str) -> tuple[str, ...]:
    """Slot names used by a template, in order of first use. Raises TemplateError on bad syntax."""
    where = getattr(template, "where", "") or "template"
    names: list[str] = []
    try:
        parsed = list(_FORMATTER.parse(template))
    except ValueError as e:
        raise TemplateError(f"{where}: bad brace syntax ({e}) in {template!r}") from None
    for _, name, spec, conv in parsed:
        if name is None:
            continue
        if name == "" or not name.isidentifier():
            raise TemplateError(f"{where}: slot {{{name}}} is not a slot name (in {template!r})")
        if spec or conv:
            raise TemplateError(f"{where}: slot {{{name}}} must not carry a format spec or conversion")
        if name not in names:
            names.append(name)
    return tuple(names)


def fill(template: str, **slots: Any) -> str:
    """Fill a template's slots. Every slot the template uses must be known (in SLOTS) and given;
    given slots the template does not use are ignored (phrasings mention different things).

    Raises TemplateError naming the task, list and template index (for templates from
    `load_templates`) and the offending slot.
    """
    where = getattr(template, "where", "") or "template"
    values: dict[str, str] = {}
    for name in slots_of(template):
        if name not in SLOTS and not getattr(template, "checked", False):
            raise TemplateError(f"{where}: unknown slot {{{name}}} (known: {', '.join(SLOTS)})")
        value = slots.get(name)
        if value is None:
            raise TemplateError(f"{where}: missing slot {{{name}}} (given: {', '.join(sorted(slots)) or 'none'})")
        values[name] = str(value)
    return template.format(**values)


@dataclass(frozen=True)
class Templates:
    """The templates of one task, as read from <family>/templates/<task>.json.

    questions[fmt] / answers[fmt]: tuples of `Template`; provided[(part, fmt)]: the slots the
    engine passes when filling that list (part is "questions" or "answers"); asks: for comparison
    tasks, whether the questions ask for the "smaller" or the "larger" quantity, else None.
    """

    task: str
    category: str
    questions: Mapping[str, tuple[Template, ...]]
    answers: Mapping[str, tuple[Template, ...]]
    provided: Mapping[tuple[str, str], tuple[str, ...]]
    required: Mapping[tuple[str, str], tuple[str, ...]]
    asks: str | None
    path: Path

    @property
    def formats(self) -> tuple[str, ...]:
        """Answer formats (mc, yesno, free, track) this task supports, in canonical order."""
        return tuple(f for f in QUESTION_FORMATS if f in self.questions)


def _where(path: Path, task: str, part: str, fmt: str, i: int | None = None) -> str:
    tail = f"{part}.{fmt}" + (f"[{i}]" if i is not None else "")
    return f"{path.name} (task {task}): {tail}"


def _read(path: Path, task: str, categories: tuple[str, ...], slots: tuple[str, ...]) -> Templates:
    try:
        data = json.loads(path.read_text())
    except OSError as e:
        raise TemplateError(f"{path}: cannot read templates of task {task!r} ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise TemplateError(f"{path}: invalid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: top level must be a JSON object")
    if data.get("task") != task:
        raise TemplateError(f"{path}: field 'task' is {data.get('task')!r}, expected {task!r}")
    category = data.get("category")
    if category not in categories:
        raise TemplateError(f"{path}: field 'category' is {category!r}, expected one of {categories}")
    asks = data.get("asks")
    if asks not in (None, "smaller", "larger"):
        raise TemplateError(f"{path}: field 'asks' is {asks!r}, expected 'smaller', 'larger' or absent")
    slot_spec = data.get("slots", {})
    parts: dict[str, dict[str, tuple[Template, ...]]] = {}
    provided: dict[tuple[str, str], tuple[str, ...]] = {}
    required: dict[tuple[str, str], tuple[str, ...]] = {}
    templated = _templated_formats()
    for part, allowed in (("questions", format_names()), ("answers", templated)):
        block = data.get(part, {})
        if not isinstance(block, dict):
            raise TemplateError(f"{path}: field {part!r} must be an object of format -> list of strings")
        parts[part] = {}
        for fmt, items in block.items():
            if fmt not in allowed:
                raise TemplateError(f"{path}: {part}.{fmt}: unknown format (allowed: {', '.join(allowed)})")
            if not isinstance(items, list) or not items or not all(isinstance(s, str) and s.strip() for s in items):
                raise TemplateError(f"{path}: {part}.{fmt}: must be a non-empty list of non-empty strings")
            spec = slot_spec.get(part, {}).get(fmt)
            if not isinstance(spec, dict) or not isinstance(spec.get("provided"), list):
                raise TemplateError(f"{path}: slots.{part}.{fmt}: missing {{'provided': [...], 'required': [...]}}")
            prov = tuple(spec["provided"])
            req = tuple(spec.get("required", []))
            for name in prov + req:
                if name not in slots:
                    raise TemplateError(f"{path}: slots.{part}.{fmt}: unknown slot {name!r} (known: {', '.join(slots)})")
            if not set(req) <= set(prov):
                raise TemplateError(f"{path}: slots.{part}.{fmt}: required slots {req} not all provided {prov}")
            templates = []
            for i, text in enumerate(items):
                t = Template(text, _where(path, task, part, fmt, i))
                t.checked = True  # slots checked against the family's here
                used = slots_of(t)
                for name in used:
                    if name not in prov:
                        raise TemplateError(f"{t.where}: slot {{{name}}} is not provided for {part}.{fmt} {prov}")
                for name in req:
                    if name not in used:
                        raise TemplateError(f"{t.where}: required slot {{{name}}} is not used in {text!r}")
                templates.append(t)
            parts[part][fmt] = tuple(templates)
            provided[(part, fmt)] = prov
            required[(part, fmt)] = req
    if not parts["questions"]:
        raise TemplateError(f"{path}: no questions")
    for fmt in templated:
        if fmt in parts["questions"] and fmt not in parts["answers"]:
            raise TemplateError(f"{path}: questions.{fmt} has no answers.{fmt}")
    return Templates(task, category, parts["questions"], parts["answers"], provided, required, asks, path)


@lru_cache(maxsize=None)
def _load_cached(task: str, directory: str, categories: tuple[str, ...], slots: tuple[str, ...]) -> Templates:
    return _read(Path(directory) / f"{task}.json", task, categories, slots)


def load_templates(task: str, family: Any = None, directory: str | Path | None = None,
                   categories: Sequence[str] | None = None) -> Templates:
    """Templates of `task` from its family's templates/<task>.json (or `directory`), validated:
    every template parses, uses only slots provided for its list and all required ones, and the
    category is one of the family's. `family`: a registry.Family or a family name. Cached per task."""
    if family is not None:
        if isinstance(family, str):
            from qa4d.engine.registry import family_tasks, get_family

            if directory is None and task not in family_tasks(family):
                raise TemplateError(f"unknown task {task!r} of family {family!r} (known: {', '.join(family_tasks(family))})")
            family = get_family(family)
        directory = directory or family.templates_dir
        categories = categories or family.categories
        slots = SLOTS + tuple(s for s in family.slots if s not in SLOTS)
    else:
        if directory is None:
            raise TemplateError(f"load_templates({task!r}): give the family (or a directory)")
        slots = SLOTS
    if not categories:
        raise TemplateError(f"load_templates({task!r}): no categories (give the family)")
    return _load_cached(task, str(directory), tuple(categories), slots)


# ----------------------------------------------------------------------------- canonical texts


def _coord(v: float) -> str:
    s = f"{v:.3f}"
    return "0.000" if s == "-0.000" else s


def format_point(x: float, y: float) -> str:
    """A normalised image point as "(0.412, 0.233)" (3 decimals), for the {point} slot."""
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"format_point: non-finite point ({x}, {y})")
    return f"({_coord(x)}, {_coord(y)})"


def format_track(entries: Sequence[Mapping[str, Any]], frame_names: Mapping[int, Any] | None = None) -> str:
    """Canonical text of a point track answer, entries in the given order (already shuffled).

    entries: [{"frame": int, "x": float, "y": float, "visible": bool}] with x, y normalised to
    [0, 1]; frame_names maps an entry's frame to the number shown to the model (default: itself).
    Visible points read "frame 9: (0.412, 0.233), visible", occluded ones "frame 3: occluded";
    entries are joined with "; ".
    """
    parts = []
    for e in entries:
        n = frame_names[e["frame"]] if frame_names is not None else e["frame"]
        if e["visible"]:
            parts.append(f"frame {n}: {format_point(float(e['x']), float(e['y']))}, visible")
        else:
            parts.append(f"frame {n}: occluded")
    return "; ".join(parts)


_TRACK_RE = re.compile(
    r"frame\s+(?P<f>\d+)\s*:\s*(?:\(\s*(?P<x>-?\d+(?:\.\d+)?)\s*,\s*(?P<y>-?\d+(?:\.\d+)?)\s*\)\s*,\s*visible|occluded)"
)


def parse_track(text: str) -> list[dict[str, Any]]:
    """Inverse of `format_track`: entries in text order; occluded entries have x = y = None."""
    out = []
    for m in _TRACK_RE.finditer(text):
        if m.group("x") is None:
            out.append({"frame": int(m.group("f")), "x": None, "y": None, "visible": False})
        else:
            out.append({"frame": int(m.group("f")), "x": float(m.group("x")), "y": float(m.group("y")), "visible": True})
    return out
