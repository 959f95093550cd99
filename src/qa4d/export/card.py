"""Write a Markdown dataset card with plots for a qa4d dataset.

Reads DATASET/<split>/samples.jsonl for every split present (records validated against the sample
schema) and DATASET/dataset.json when there is one. Writes OUT/CARD.md (OUT defaults to DATASET):
a summary, the generation settings, counts per split, family, task and answer format, and then one
section per question family: what it measures (and its documentation page), counts per task and
category, its answer formats, the distributions of numeric answer values per task (meta.value:
numbers, vector components, coordinate x/y, in their unit), of the correct option letter, answer
text and yes/no, and of descriptive labels (meta.label), train and bench side by side; and the PNG
plots it shows under OUT/card/. Tasks are named family/task (task names are unique per family
only). Output is deterministic: the same dataset gives the same bytes. Malformed records are
reported (file:line and field) and left out of the counts; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from qa4d.export.records import write_bytes_atomic, write_text_atomic

from qa4d.dataset import DatasetError, RecordError, iter_samples, iter_splits, read_dataset_info

CARD_FILE = "CARD.md"
PLOT_DIR = "card"
SPLIT_COLORS = {"train": "#4C72B0", "bench": "#DD8452"}
FAMILIES_PATH = Path(__file__).resolve().parent / "templates" / "families.json"
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
    if isinstance(label, str) and "=" in label:
        label = dict(part.split("=", 1) for part in label.split(","))
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


@lru_cache(maxsize=1)
def family_descriptions() -> dict[str, dict[str, str]]:
    data = json.loads(FAMILIES_PATH.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


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


# ---------------------------------------------------------------------------------------------
# Markdown


def _cell(x: Any) -> str:
    return str(x).replace("|", "\\|").replace("\n", " ")


def md_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align_right_from: int = 1) -> str:
    rows = [list(r) for r in rows]
    sep = ["---" if i < align_right_from else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(_cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _split_cols(stats: DatasetStats, counter: Counter, key: tuple) -> list[int]:
    vals = [counter[(*key, s)] for s in stats.splits]
    return vals + [sum(vals)] if len(stats.splits) > 1 else vals


def _fmt_num(x: float) -> str:
    return f"{x:.4g}"


def _source_section(by_source: Mapping[str, Any] | None) -> list[str]:
    """'Counts per source' from dataset.json's by_source: samples per task and scene source, and
    for a task with none, its most frequent skip reason."""
    if not by_source:
        return []
    rows = []
    for src in sorted(by_source):
        d = by_source[src]
        for t in sorted(set(d.get("counts", {})) | set(d.get("skips", {}))):
            n = int(d.get("counts", {}).get(t, 0))
            skips = d.get("skips", {}).get(t, {})
            why = "" if n else (max(sorted(skips), key=lambda r: skips[r]) if skips else "dropped in balancing")
            rows.append([src, t, n, why])
    scenes = ", ".join(f"{src} {by_source[src].get('scenes', 0)}" for src in sorted(by_source))
    return ["", "## Counts per source", "", f"Scenes per source: {scenes}. From `dataset.json` (`by_source`); "
            "a task without samples from a source shows its most frequent skip reason.", "",
            md_table(["source", "task", "samples", "skipped because"], rows, 2)]


def _settings_section(info: Mapping[str, Any]) -> list[str]:
    """dataset.json's generation settings (its `settings` object, or every top-level scalar of an
    older file); per-task counts, skips and thresholds stay in dataset.json."""
    if not info:
        return []
    settings = info.get("settings") if isinstance(info.get("settings"), Mapping) else {}
    rows = [(k, json.dumps(info[k], sort_keys=True)) for k in sorted(info) if not isinstance(info[k], (dict, list))]
    rows += [(k, json.dumps(settings[k], sort_keys=True)) for k in sorted(settings)]
    if not settings:
        rows += [(k, json.dumps(info[k], sort_keys=True)) for k in sorted(info) if isinstance(info[k], list)]
    left = sorted(k for k in info if isinstance(info[k], (dict, list)) and k != "settings" and (settings or isinstance(info[k], dict)))
    note = f" Also in `dataset.json`: {', '.join(f'`{k}`' for k in left)}." if left else ""
    return ["", "## Generation settings", "", f"From `dataset.json`.{note}", "", md_table(["setting", "value"], rows, 2)]


def doc_link(family: str, out_dir: Path | None = None) -> str:
    """The family's documentation page, named by its path in the qa4d repository (not a link
    relative to this machine's checkout: the card's bytes must not depend on where it is written)."""
    doc = family_descriptions().get(family, {}).get("doc")
    return f"`{doc}` in the qa4d repository" if doc else ""


def _family_section(stats: DatasetStats, family: str, plots: Mapping[str, str], out_dir: Path | None) -> list[str]:
    sp = stats.splits
    total_cols = sp + (["total"] if len(sp) > 1 else [])
    desc = family_descriptions().get(family, {})
    out = ["", f"## Family `{family}`" + (f": {desc['title']}" if desc.get("title") else ""), ""]
    if desc.get("measures"):
        out.append(desc["measures"])
    link = doc_link(family, out_dir)
    out += ["", f"Documentation: {link}." if link else "No documentation page is known for this family."]
    n = [stats.by_family[family, s] for s in sp]
    out += ["", f"{sum(n)} samples ({', '.join(f'{s} {c}' for s, c in zip(sp, n))}), "
            f"{len(stats.tasks(family))} tasks in {len(stats.categories(family))} categories."]

    out += ["", f"### {family}: tasks", ""]
    rows = []
    for key in stats.tasks(family):
        fmts = ", ".join(f"{f} {c}" for f, c in sorted((f, c) for (k, f), c in stats.task_format.items() if k == key))
        rows.append([key[1], stats.task_category[key], fmts, *_split_cols(stats, stats.by_task, (key,))])
    out.append(md_table(["task", "category", "formats", *total_cols], rows, 3))

    out += ["", f"### {family}: categories", ""]
    out.append(md_table(["category", *total_cols], ([c, *_split_cols(stats, stats.by_category, (family, c))] for c in stats.categories(family))))

    out += ["", f"### {family}: answer formats", ""]
    fmts = sorted({f for (fa, f, _) in stats.family_format if fa == family})
    out.append(md_table(["answer format", *total_cols], ([f, *_split_cols(stats, stats.family_format, (family, f))] for f in fmts)))

    hists = histograms(stats, family)
    if hists:
        out += ["", f"### {family}: numeric answers", "",
                "Values of `meta.value` (the machine-readable answer) per task, in their unit; vectors and "
                "coordinates per component.", ""]
        rows = []
        for h in hists:
            for s in sp:
                v = np.asarray(stats.values[h.key, h.component, h.unit].get(s, []), float)
                if v.size:
                    rows.append([h.key[1], h.component, h.unit, s, v.size, _fmt_num(v.min()), _fmt_num(float(np.median(v))),
                                 _fmt_num(v.max()), _fmt_num(v.mean())])
                else:
                    rows.append([h.key[1], h.component, h.unit, s, 0, "", "", "", ""])
        out.append(md_table(["task", "value", "unit", "split", "n", "min", "median", "max", "mean"], rows, 4))
        if f"{family}/values" in plots:
            out += ["", f"![{family}: numeric answer values, train and bench]({plots[f'{family}/values']})"]

    bars = answer_bars(stats, family)
    if bars:
        out += ["", f"### {family}: answers", "", "Correct option letters, yes/no answers and correct option "
                "texts (tasks with numeric answers are shown by value above), per split."]
        for b in bars:
            rows = [[name, *[b.counts[s][i] for s in sp], *([sum(b.counts[s][i] for s in sp)] if len(sp) > 1 else [])]
                    for i, name in enumerate(b.names)]
            out += ["", f"#### {family}/{b.key[1]}: {b.kind}", "", md_table([b.kind, *total_cols], rows)]
        if f"{family}/answers" in plots:
            out += ["", f"![{family}: answer distributions, train and bench]({plots[f'{family}/answers']})"]

    labels = label_bars(stats, family)
    if labels:
        out += ["", f"### {family}: labels", "", "Canonical labels (`meta.label`) of the descriptive tasks."]
        for b in labels:
            rows = [[name, *[b.counts[s][i] for s in sp], *([sum(b.counts[s][i] for s in sp)] if len(sp) > 1 else [])]
                    for i, name in enumerate(b.names)]
            out += ["", f"#### {family}/{b.key[1]}: label", "", md_table(["label", *total_cols], rows)]
        if f"{family}/labels" in plots:
            out += ["", f"![{family}: label distributions, train and bench]({plots[f'{family}/labels']})"]

    meas = [k for k in stats.tasks(family) if stats.measurements.get(k)]
    if meas:
        out += ["", f"### {family}: measurements", "",
                "Scalar `meta.measurement` values (the continuous quantity behind each answer), all splits together.", ""]
        rows = []
        for k in meas:
            a = np.asarray(stats.measurements[k])
            rows.append([k[1], a.size, _fmt_num(a.min()), _fmt_num(float(np.median(a))), _fmt_num(a.max()), _fmt_num(a.mean())])
        out.append(md_table(["task", "n", "min", "median", "max", "mean"], rows))
    return out


def render_card(name: str, stats: DatasetStats, info: Mapping[str, Any], plots: Mapping[str, str],
                out_dir: Path | None = None) -> str:
    sp = stats.splits
    total_cols = sp + (["total"] if len(sp) > 1 else [])
    total = sum(stats.n.values())
    all_scenes = set().union(*stats.scenes.values()) if stats.scenes else set()
    out: list[str] = [f"# Dataset card: {name}", ""]

    split_desc = ", ".join(f"{s} {stats.n[s]}" for s in sp)
    fams = ", ".join(f"`{f}`" for f in stats.families())
    out.append(
        f"{total} question-answer samples ({split_desc}) over {len(all_scenes)} scenes, "
        f"{len(stats.task_category)} tasks from question families {fams or '(none)'}. Every record follows "
        f"the qa4d sample schema (`qa4d/dataset/sample.schema.json`); media paths are relative to the dataset root. "
        f"Tasks are named family/task."
    )
    if len(sp) > 1:
        shared = sorted(set.intersection(*(stats.scenes.get(s, set()) for s in sp)))
        out.append("")
        out.append(
            "Splits are disjoint by scene." if not shared else f"**Warning:** {len(shared)} scene(s) appear in more than one split: {', '.join(shared[:10])}."
        )
    if stats.errors:
        out += ["", f"**{len(stats.errors)} malformed record(s) were left out of these counts.**"]

    out += _settings_section(info)

    out += ["", "## Counts per split", ""]
    out.append(md_table(["split", "samples", "scenes", "media files"],
                        ((s, stats.n[s], len(stats.scenes.get(s, ())), len(stats.media.get(s, ()))) for s in sp)))

    out += ["", "## Counts per family", ""]
    rows = []
    for f in stats.families():
        rows.append([f, len(stats.tasks(f)), *_split_cols(stats, stats.by_family, (f,))])
    out.append(md_table(["family", "tasks", *total_cols], rows))

    out += ["", "## Counts per task", ""]
    out.append(md_table(["task", "category", *total_cols],
                        ([f"{k[0]}/{k[1]}", stats.task_category[k], *_split_cols(stats, stats.by_task, (k,))] for k in stats.tasks()), 2))
    if "counts" in plots:
        out += ["", f"![Samples per task and split]({plots['counts']})"]

    out += ["", "## Answer formats", ""]
    fmts = sorted({f for f, _ in stats.by_format})
    out.append(md_table(["answer format", *total_cols], ([f, *_split_cols(stats, stats.by_format, (f,))] for f in fmts)))

    for f in stats.families():
        out += _family_section(stats, f, plots, out_dir)
    out += _source_section(info.get("by_source") if info else None)
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------
# plots


def _figure_png(fig: Any) -> bytes:
    buf = io.BytesIO()
    # no Software/date metadata: the same data gives the same bytes
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "qa4d", "font.size": 9})
    return plt


def _grid(n: int, width: float = 4.2, height: float = 2.8, ncols: int = 3) -> tuple[Any, list[Any]]:
    plt = _pyplot()
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _split_label(split: str) -> str:
    return split


def plot_histograms(hists: Sequence[Histogram], splits: Sequence[str], title: str) -> Any:
    """A figure with one panel per histogram: per bin, one bar per split side by side (bar heights
    are exactly Histogram.counts). Returns the matplotlib figure."""
    fig, axes = _grid(len(hists), 3.8, 2.7)
    k = max(1, len(splits))
    for ax, h in zip(axes, hists):
        left, widths = h.edges[:-1], np.diff(h.edges)
        for i, s in enumerate(splits):
            ax.bar(left + widths * i / k, h.counts[s], width=widths / k, align="edge",
                   color=SPLIT_COLORS.get(s, "#888888"), label=_split_label(s), gid=f"{h.title}|{s}")
        ax.set_title(h.title, fontsize=9)
        ax.set_xlabel(h.unit or "value", fontsize=8)
        ax.set_ylabel("samples", fontsize=8)
        ax.yaxis.set_major_locator(_integer_ticks())
    return _finish(fig, axes, title)


def plot_bars(bars: Sequence[Bars], splits: Sequence[str], title: str) -> Any:
    """One panel per Bars: horizontal bars, one per split side by side for each name."""
    heights = [max(2.4, 0.32 * len(b.names) * max(1, len(splits)) / 2 + 1.0) for b in bars]
    fig, axes = _grid(len(bars), 4.4, max(heights))
    k = max(1, len(splits))
    for ax, b in zip(axes, bars):
        y = np.arange(len(b.names))
        h = 0.8 / k
        for i, s in enumerate(splits):
            ax.barh(y - 0.4 + h * i, b.counts[s], height=h, align="edge", color=SPLIT_COLORS.get(s, "#888888"),
                    label=_split_label(s), gid=f"{b.title}|{s}")
        ax.set_yticks(y, b.names, fontsize=7)
        ax.invert_yaxis()
        ax.set_title(b.title, fontsize=9)
        ax.set_xlabel("samples", fontsize=8)
        ax.xaxis.set_major_locator(_integer_ticks())
    return _finish(fig, axes, title)


def _integer_ticks() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def _finish(fig: Any, axes: Sequence[Any], title: str) -> Any:
    """Legend on the first panel, the title above all panels (room kept for it), tight layout."""
    if axes:
        axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def _counts_figure(stats: DatasetStats) -> Any:
    plt = _pyplot()
    keys = stats.tasks()
    names = [f"{f}/{t}" for f, t in keys]
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(keys) * max(1, len(stats.splits)) / 2 + 1.4))
    y = np.arange(len(keys))
    k = max(1, len(stats.splits))
    for i, s in enumerate(stats.splits):
        ax.barh(y - 0.4 + 0.8 * i / k, [stats.by_task[key, s] for key in keys], height=0.8 / k, align="edge",
                color=SPLIT_COLORS.get(s, "#888888"), label=s)
    ax.set_yticks(y, names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("samples")
    ax.set_title("Samples per task")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def make_figures(stats: DatasetStats) -> dict[str, Any]:
    """Matplotlib figures per plot name ('counts', '<family>/values', '<family>/answers',
    '<family>/labels'); empty plots are left out."""
    figs: dict[str, Any] = {}
    if stats.task_category:
        figs["counts"] = _counts_figure(stats)
    for f in stats.families():
        hists = histograms(stats, f)
        if hists:
            figs[f"{f}/values"] = plot_histograms(hists, stats.splits, f"{f}: numeric answers")
        bars = answer_bars(stats, f)
        if bars:
            figs[f"{f}/answers"] = plot_bars(bars, stats.splits, f"{f}: answers")
        labels = label_bars(stats, f)
        if labels:
            figs[f"{f}/labels"] = plot_bars(labels, stats.splits, f"{f}: labels")
    return figs


def make_plots(stats: DatasetStats) -> dict[str, bytes]:
    """PNG bytes per plot name (see make_figures)."""
    return {k: _figure_png(fig) for k, fig in make_figures(stats).items()}


def plot_file(key: str) -> str:
    """'multispa/values' -> 'card/multispa_values.png' (family names made safe for file names)."""
    return f"{PLOT_DIR}/{re.sub(r'[^A-Za-z0-9_.-]', '_', key.replace('/', '_'))}.png"


# ---------------------------------------------------------------------------------------------
# verb


def write_card(dataset: str | Path, out: str | Path | None = None) -> tuple[Path, list[Path], list[str]]:
    """Write CARD.md and its plots; return (card path, plot paths, malformed-record messages)."""
    dataset = Path(dataset)
    out_dir = Path(out) if out is not None else dataset
    info = read_dataset_info(dataset)
    stats = collect_stats(dataset)
    name = str(info.get("name") or dataset.resolve().name)
    pngs = make_plots(stats)
    plot_paths = []
    refs = {}
    for key, data in pngs.items():
        rel = plot_file(key)
        write_bytes_atomic(out_dir / rel, data)
        plot_paths.append(out_dir / rel)
        refs[key] = rel
    card = out_dir / CARD_FILE
    write_text_atomic(card, render_card(name, stats, info, refs, out_dir))
    return card, plot_paths, stats.errors


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="dataset directory (with train/ and bench/)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=None, help="where CARD.md and card/ go (default: DATASET)")


def run(args: argparse.Namespace) -> int:
    try:
        card, plots, errors = write_card(args.dataset, args.out)
    except DatasetError as exc:
        print(f"qa4d card: error: {exc}", file=sys.stderr)
        return 2
    for e in errors:
        print(f"qa4d card: bad record: {e}", file=sys.stderr)
    print(f"wrote {card}")
    for p in plots:
        print(f"wrote {p}")
    return 1 if errors else 0
