"""The answer-format interface: everything qa4d knows about one answer format, in one class.

An answer format (mc, yesno, free, track, number, scalar, vector, coord) says what an answer looks
like. Its class, registered with `@register_format("name")` (qa4d.answers.registry), holds:

    records     `check_record`: the cross-field rule of a sample record the JSON schema cannot say;
                `bench_fields`: the record's answer as a benchmark item holds it
    prompting   `has_unit` / `has_coords`: what its instruction names; the instruction text
                itself is data (instructions.json, or the class's own `instructions`)
    reading     `extract`: a reply -> Extraction; `guess_keys`: what a random guess picks from
    scoring     `score`: (correct, score, extra) of an extracted value; `chance`; `accuracy_style`
    baselines   `random_reply`, `observe` / `prior_answer` (the blind prior), `oracle_reply`,
                `obedient_value` (the truth in the form an instruction asks for)
    audit       `audit_baseline`: which blind baseline `qa4d audit` fits on it; `score_values`:
                the metric over arrays, for numeric formats
    judge       `judge_instruction` / `read_verdict`: what an LLM judge is asked, and its reply

Items are duck-typed (`Item`: qa4d.bench.types.BenchItem has these fields), so this package
imports nothing from the engine or the bench; only the pure NumPy metrics of qa4d.bench.metrics.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass
class Extraction:
    """What the answer parser made of a response."""

    value: Any | None   # parsed answer (letter, number, list, track) or None when unparsed
    rule: str           # which rule matched ("final_answer", "answer_tag", ..., "unparsed", "judge")
    text: str = ""      # the span it matched


class Item(Protocol):
    """The fields of a benchmark item a format reads (qa4d.bench.types.BenchItem)."""

    id: str
    task: str
    answer: str
    answer_format: str
    options: dict[str, str] | None
    meta: dict[str, Any]


class FieldError(ValueError):
    """A record field a format cannot read; the caller adds the file and the record."""

    def __init__(self, field: str, problem: str):
        super().__init__(f"field {field!r}: {problem}")
        self.field, self.problem = field, problem


UNPARSED = Extraction(None, "unparsed", "")


class AnswerFormat:
    """Base class of the answer formats. Subclasses set the class attributes and override the
    methods their format needs; the defaults are those of an open text answer."""

    name: str = ""                     # set by @register_format
    order: int = 100                   # place in the registry's list (set by @register_format)
    accuracy_style: bool = True        # correct is True/False and the score 1/0 (else graded: correct None)
    numeric: bool = False              # the record's machine-readable answer is meta.value (a number or a list)
    has_unit: bool = False             # the instruction names a unit (number, scalar, vector)
    has_coords: bool = False           # the instruction names a coordinate space (coord, track)
    answer_template: bool = True       # the engine renders the answer text from a family template
    audit_baseline: str | None = None  # "options", "yesno", "numeric", "majority" or None (qa4d audit)
    judge_instruction: str | None = None  # what an LLM judge is asked for a reply of this format
    # {wording: {mode: [place, text]}} for a format defined outside this package; the package's own
    # formats keep theirs in instructions.json
    instructions: dict[str, dict[str, list[str]]] | None = None

    # ---- records
    def check_record(self, record: dict[str, Any]) -> tuple[str, str] | None:
        """(field, problem) of a rule the schema cannot express, or None when the record keeps it."""
        return None

    def bench_fields(self, record: dict[str, Any], meta: dict[str, Any]) -> tuple[str, dict[str, str] | None]:
        """(answer text, options) of the benchmark item of a sample record; may add to `meta` (a
        copy of the record's meta) what scoring needs. Raises FieldError for a bad field."""
        return record["answer"], None

    # ---- reading
    def extract(self, text: str, item: Item) -> Extraction:
        raise NotImplementedError

    def guess_keys(self, item: Item) -> list[str]:
        """The answers a seeded random guess picks from when a reply is unparsed (`--guess`);
        empty: this format is never guessed."""
        return []

    # ---- scoring
    def score(self, item: Item, ex: Extraction) -> tuple[bool | None, float, dict[str, Any]]:
        """(correct, score, extra) of an extracted value (`ex.value` is not None)."""
        raise NotImplementedError

    def chance(self, item: Item) -> float:
        """The expected score of a uniform guess among a finite answer set; 0 for open answers."""
        return 0.0

    def score_values(self, pred: np.ndarray, gt: np.ndarray, width: np.ndarray) -> np.ndarray:
        """Numeric formats: per-item scores of values pred, gt (N, D) float64; width (N,) the full
        image width in the values' coordinates (coord). Returns (N,) float64."""
        raise NotImplementedError(f"format {self.name!r} has no array metric")

    # ---- baselines (qa4d.bench.models.baselines)
    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        """A chance-level reply of the right shape, in the form the extractor reads."""
        return "Answer: unknown"

    def observe(self, stats: Any, task: str, record: dict[str, Any]) -> None:
        """Count a train record into the prior's statistics (qa4d.answers.prior.AnswerStats)."""
        stats.observe_text(task, record["answer"])

    def prior_answer(self, stats: Any, item: Item) -> tuple[str, bool]:
        """The prior's answer text and whether the item's own task was seen in train."""
        texts, seen = stats.pool(stats.texts, item.task)
        ranked = stats.ranked(texts)
        return (ranked[0] if ranked else ""), seen

    def prior_reply(self, text: str, item: Item) -> str:
        return f"Answer: {text}"

    def oracle_reply(self, item: Item) -> str:
        """The ground truth, written the way the extractor reads it."""
        return f"Answer: {item.answer}"

    def obedient_value(self, item: Item, form: Any, frame_size: tuple[float, float] | None) -> str:
        """The ground truth as the text of the value `form` (an AnswerForm) asks for."""
        return item.answer

    # ---- judge (qa4d.bench.judge)
    def read_verdict(self, token: str, item: Item) -> Any | None:
        """The judge's one-token reply as an answer value, or None when off-format."""
        return None


def json_list(text: str) -> Any:
    """`text` parsed as JSON, or None."""
    try:
        return json.loads(text)
    except (TypeError, ValueError):
        return None
