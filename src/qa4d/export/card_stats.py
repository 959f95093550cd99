"""The numbers of the dataset card (`qa4d card`), gathered in one pass over the records.

Pure: records in, counts and histogram bins out; `qa4d.export.card` writes them as Markdown
tables and `qa4d.export.card_plots` draws exactly these numbers. Tasks are keyed by
(family, task): task names are unique per family only. Every sorted view is deterministic.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from tqdm import tqdm

from qa4d.dataset import RecordError, iter_samples, iter_splits

MAX_TEXT_VALUES = 12   # answer texts per task shown; the rest are summed as "other"
MAX_TEXT_CHARS = 48
MAX_INT_BINS = 40      # integer values spanning at most this many units get one bin per integer
FLOAT_BINS = 20

TaskKey = tuple[str, str]  # (family, task)

def numeric_components(record: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The numeric answer of a record as (component, value) pairs, from meta.value: a number
    gives ("value", v); a coordinate [x, y] gives x and y; a vector [x, y, z] gives x, y and z.
    Records of format number/scalar without a numeric meta.value fall back to the answer text
    (backticks stripped). Text answers (labels, letters, JSON boxes) give []."""
    meta = record.get("meta") or {}
    v = meta.get("value")
    if _is_num(v):
        return [("value", float(v))]
    if isinstance(v, list) and v and all(_is_num(x) for x in v):
        names = ("x", "y", "z") if len(v) <= 3 else tuple(f"[{i}]" for i in range(len(v)))
        return [(names[i], float(x)) for i, x in enumerate(v)]
    if v is None and record.get("answer_format") in ("number", "scalar"):
        try:
            x = float(str(record.get("answer", "")).strip().strip("`").strip())
        except ValueError:
            return []
        return [("value", x)] if math.isfinite(x) else []
    return []


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def value_unit(record: Mapping[str, Any]) -> str:
    """The unit of a record's numeric answer: meta.unit, or the coordinate scale of a coord answer."""
    meta = record.get("meta") or {}
    if meta.get("unit"):
        return str(meta["unit"])
    if record.get("answer_format") == "coord":
        scale = meta.get("scale")
        return f"0-{int(scale) - 1} scale" if _is_num(scale) and float(scale) == int(scale) else "image coordinates"
    return ""


def answer_text(record: Mapping[str, Any]) -> str:
    """The correct option's text of an mc record, shortened to MAX_TEXT_CHARS."""
    text = str((record.get("options") or {}).get(record["answer"], record["answer"]))
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 3] + "..."


@dataclass
class DatasetStats:
    """Everything the card reports, gathered in one pass over the records. Tasks are keyed by
    (family, task): task names are unique within a family only."""

    splits: list[str] = field(default_factory=list)
    n: Counter = field(default_factory=Counter)  # split -> samples
    scenes: dict[str, set] = field(default_factory=dict)  # split -> scene ids
    media: dict[str, set] = field(default_factory=dict)  # split -> media paths
    by_family: Counter = field(default_factory=Counter)  # (family, split)
    task_category: dict[TaskKey, str] = field(default_factory=dict)
    by_task: Counter = field(default_factory=Counter)  # (key, split)
    by_category: Counter = field(default_factory=Counter)  # (family, category, split)
    by_format: Counter = field(default_factory=Counter)  # (answer_format, split)
    family_format: Counter = field(default_factory=Counter)  # (family, answer_format, split)
    task_format: Counter = field(default_factory=Counter)  # (key, answer_format)
    labels: Counter = field(default_factory=Counter)  # (key, label, split)
    answers: Counter = field(default_factory=Counter)  # (key, answer_format, answer, split)
    texts: Counter = field(default_factory=Counter)  # (key, correct option text, split)
    values: dict[tuple[TaskKey, str, str], dict[str, list[float]]] = field(default_factory=dict)  # (key, comp, unit) -> split -> values
    measurements: dict[TaskKey, list[float]] = field(default_factory=dict)  # key -> scalar meta.measurement
    errors: list[str] = field(default_factory=list)

    def add(self, split: str, r: Mapping[str, Any]) -> None:
        self.n[split] += 1
        self.scenes.setdefault(split, set()).add(r["scene_id"])
        self.media.setdefault(split, set()).update(r["media"])
        fam, fmt = r["family"], r["answer_format"]
        key = (fam, r["task"])
        self.by_family[fam, split] += 1
        self.task_category.setdefault(key, r["category"])
        self.by_task[key, split] += 1
        self.by_category[fam, r["category"], split] += 1
        self.by_format[fmt, split] += 1
        self.family_format[fam, fmt, split] += 1
        self.task_format[key, fmt] += 1
        meta = r["meta"]
        if "label" in meta and meta["label"] is not None:
            self.labels[key, label_text(meta["label"]), split] += 1
        if fmt in ("mc", "yesno"):
            self.answers[key, fmt, r["answer"], split] += 1
        comps = numeric_components(r)
        unit = value_unit(r) if comps else ""
        for comp, v in comps:
            self.values.setdefault((key, comp, unit), {}).setdefault(split, []).append(v)
        if not comps and fmt == "mc":
            self.texts[key, answer_text(r), split] += 1
        m = meta.get("measurement")
        if _is_num(m):
            self.measurements.setdefault(key, []).append(float(m))

    # sorted views (deterministic): families alphabetically, then categories, then tasks
    def families(self) -> list[str]:
        return sorted({f for f, _ in self.by_family})

    def tasks(self, family: str | None = None) -> list[TaskKey]:
        keys = [k for k in self.task_category if family is None or k[0] == family]
        return sorted(keys, key=lambda k: (k[0], self.task_category[k], k[1]))

    def categories(self, family: str) -> list[str]:
        return sorted({c for f, c, _ in self.by_category if f == family})


def label_text(label: Any) -> str:
    """A canonical label as one string: lists (camera_movement, object_direction) join with ' + ',
    structured labels (agent_motion: {"move": ..., "turn": ...}) join their values the same way.
    Records store a label as its canonical key ('right+pan_left', 'move=backward,turn=left'),
    which reads the same way."""
    pairs = [part.split("=", 1) for part in label.split(",")] if isinstance(label, str) else []
    if pairs and all(len(p) == 2 for p in pairs):
        label = dict(pairs)
    elif isinstance(label, str) and "+" in label:
        label = label.split("+")
    if isinstance(label, list):
        return " + ".join(str(x) for x in label)
    if isinstance(label, dict):
        return " + ".join(f"{k} {v}" for k, v in label.items())
    return str(label)


def collect_stats(dataset: Path) -> DatasetStats:
    stats = DatasetStats()
    for sp in iter_splits(dataset, "all"):
        stats.splits.append(sp.name)
        errors: list[RecordError] = []
        for r in tqdm(iter_samples(sp.samples_path, errors), desc=f"card {sp.name}", unit="rec", file=sys.stderr, disable=None):
            stats.add(sp.name, r)
        stats.errors += [str(e) for e in errors]
    return stats


# ---------------------------------------------------------------------------------------------
# the numbers behind the plots (pure; the plots draw exactly these)


@dataclass
class Histogram:
    """One numeric panel (a task's value component in one unit: a task may state several units,
    e.g. sizes in cm and distances in m): bin edges (B+1,) and counts (B,) per split, same bins."""

    key: TaskKey
    component: str
    unit: str
    edges: np.ndarray
    counts: dict[str, np.ndarray]

    @property
    def title(self) -> str:
        comp = "" if self.component == "value" else f" {self.component}"
        return f"{self.key[1]}{comp}" + (f" ({self.unit})" if self.unit else "")


def value_bins(values: np.ndarray) -> np.ndarray:
    """Bin edges for values (N,): integers spanning at most MAX_INT_BINS units get one bin per
    integer (edges at k - 0.5), other values FLOAT_BINS equal bins over [min, max] (a single
    value gets one bin of width 1 around it). Returns (B+1,) float64."""
    v = np.asarray(values, dtype=float)
    lo, hi = float(v.min()), float(v.max())
    if np.all(v == np.round(v)) and hi - lo <= MAX_INT_BINS:
        return np.arange(lo - 0.5, hi + 1.0, 1.0)
    if hi == lo:
        return np.array([lo - 0.5, lo + 0.5])
    return np.linspace(lo, hi, FLOAT_BINS + 1)


def histograms(stats: DatasetStats, family: str) -> list[Histogram]:
    """Numeric answer histograms of one family, one per (task, component), train and bench over
    shared bins."""
    out = []
    for key in stats.tasks(family):
        comps = [(c, u) for (k, c, u) in stats.values if k == key]
        for comp, unit in sorted(comps, key=lambda cu: (cu[1], cu[0] != "value", cu[0])):
            per = stats.values[key, comp, unit]
            edges = value_bins(np.concatenate([np.asarray(v, float) for v in per.values()]))
            counts = {s: np.histogram(np.asarray(per.get(s, []), float), edges)[0] for s in stats.splits}
            out.append(Histogram(key, comp, unit, edges, counts))
    return out


@dataclass
class Bars:
    """One categorical panel: category names and counts per split (train and bench side by side)."""

    key: TaskKey
    kind: str  # "correct letter", "yes/no", "answer text", "label"
    names: list[str]
    counts: dict[str, list[int]]

    @property
    def title(self) -> str:
        return f"{self.key[1]}: {self.kind}"


def _top(names_counts: Mapping[str, int], limit: int) -> list[str]:
    return sorted(names_counts, key=lambda n: (-names_counts[n], n))[:limit]


def answer_bars(stats: DatasetStats, family: str) -> list[Bars]:
    """Per task: the correct letter (mc), yes/no, and the correct option text of mc tasks whose
    answers are neither numeric nor labelled (meta.label, shown as labels) and repeat (at most
    half as many distinct texts as samples): the MAX_TEXT_VALUES most frequent, the rest summed
    as 'other (k texts)'."""
    out = []
    for key in stats.tasks(family):
        for fmt, kind in (("mc", "correct letter"), ("yesno", "yes/no")):
            vals = sorted({a for (k, f, a, _) in stats.answers if k == key and f == fmt})
            if not vals:
                continue
            if fmt == "yesno":
                vals = ["yes", "no"]
            out.append(Bars(key, kind, vals, {s: [stats.answers[key, fmt, a, s] for a in vals] for s in stats.splits}))
        totals = Counter()
        for (k, t, s), c in stats.texts.items():
            if k == key:
                totals[t] += c
        has_labels = any(k == key for (k, _, _) in stats.labels)
        # texts that repeat say something (an option bias); all-distinct ones (coordinates, boxes) do not
        if totals and not has_labels and len(totals) <= sum(totals.values()) / 2:
            names = _top(totals, MAX_TEXT_VALUES)
            counts = {s: [stats.texts[key, t, s] for t in names] for s in stats.splits}
            rest = [t for t in totals if t not in names]
            if rest:
                names = names + [f"other ({len(rest)} texts)"]
                for s in stats.splits:
                    counts[s].append(sum(stats.texts[key, t, s] for t in rest))
            out.append(Bars(key, "answer text", names, counts))
    return out


def label_bars(stats: DatasetStats, family: str) -> list[Bars]:
    out = []
    for key in stats.tasks(family):
        totals = Counter()
        for (k, lab, s), c in stats.labels.items():
            if k == key:
                totals[lab] += c
        if totals:
            names = sorted(totals, key=lambda n: (-totals[n], n))
            out.append(Bars(key, "label", names, {s: [stats.labels[key, lab, s] for lab in names] for s in stats.splits}))
    return out
