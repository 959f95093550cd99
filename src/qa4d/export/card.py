"""Write a Markdown dataset card with plots for a qa4d dataset.

Reads DATASET/<split>/samples.jsonl for every split present (records validated against the sample
schema) and DATASET/dataset.json when there is one. Writes OUT/CARD.md (OUT defaults to DATASET):
a summary, the generation settings, counts per split, category and task, the answer-format mix, the
label distribution of every descriptive task (meta.label), answer-letter and yes/no distributions,
and statistics of the continuous measurements (meta.measurement); and the PNG plots it shows under
OUT/card/. Output is deterministic: the same dataset gives the same bytes. Malformed records are
reported (file:line and field) and left out of the counts; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from tqdm import tqdm

from qa4d.export.records import write_bytes_atomic, write_text_atomic

from qa4d.dataset import DatasetError, RecordError, iter_samples, iter_splits, read_dataset_info

CARD_FILE = "CARD.md"
PLOT_DIR = "card"
SPLIT_COLORS = {"train": "#4C72B0", "bench": "#DD8452"}


@dataclass
class DatasetStats:
    """Everything the card reports, gathered in one pass over the records."""

    splits: list[str] = field(default_factory=list)
    n: Counter = field(default_factory=Counter)  # split -> samples
    scenes: dict[str, set] = field(default_factory=dict)  # split -> scene ids
    media: dict[str, set] = field(default_factory=dict)  # split -> media paths
    families: Counter = field(default_factory=Counter)
    task_category: dict[str, str] = field(default_factory=dict)
    by_task: Counter = field(default_factory=Counter)  # (task, split)
    by_category: Counter = field(default_factory=Counter)  # (category, split)
    by_format: Counter = field(default_factory=Counter)  # (answer_format, split)
    labels: Counter = field(default_factory=Counter)  # (task, label, split)
    answers: Counter = field(default_factory=Counter)  # (task, answer_format, answer, split)
    measurements: dict[str, list[float]] = field(default_factory=dict)  # task -> scalar values
    errors: list[str] = field(default_factory=list)

    def add(self, split: str, r: Mapping[str, Any]) -> None:
        self.n[split] += 1
        self.scenes.setdefault(split, set()).add(r["scene_id"])
        self.media.setdefault(split, set()).update(r["media"])
        self.families[r["family"]] += 1
        task = r["task"]
        self.task_category.setdefault(task, r["category"])
        self.by_task[task, split] += 1
        self.by_category[r["category"], split] += 1
        self.by_format[r["answer_format"], split] += 1
        meta = r["meta"]
        if "label" in meta and meta["label"] is not None:
            self.labels[task, label_text(meta["label"]), split] += 1
        if r["answer_format"] in ("mc", "yesno"):
            self.answers[task, r["answer_format"], r["answer"], split] += 1
        m = meta.get("measurement")
        if isinstance(m, (int, float)) and not isinstance(m, bool) and math.isfinite(m):
            self.measurements.setdefault(task, []).append(float(m))

    # sorted views: categories, then tasks inside them, alphabetically (deterministic)
    def tasks(self) -> list[str]:
        return sorted(self.task_category, key=lambda t: (self.task_category[t], t))

    def categories(self) -> list[str]:
        return sorted(set(self.task_category.values()))


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


def _split_cols(stats: DatasetStats, counter: Counter, key: Any) -> list[int]:
    vals = [counter[key, s] if not isinstance(key, tuple) else counter[(*key, s)] for s in stats.splits]
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


def render_card(name: str, stats: DatasetStats, info: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    sp = stats.splits
    total_cols = sp + (["total"] if len(sp) > 1 else [])
    total = sum(stats.n.values())
    all_scenes = set().union(*stats.scenes.values()) if stats.scenes else set()
    out: list[str] = [f"# Dataset card: {name}", ""]

    split_desc = ", ".join(f"{s} {stats.n[s]}" for s in sp)
    fams = ", ".join(f"`{f}`" for f in sorted(stats.families))
    out.append(
        f"{total} question-answer samples ({split_desc}) over {len(all_scenes)} scenes, "
        f"{len(stats.task_category)} tasks in {len(stats.categories())} categories, "
        f"from question families {fams or '(none)'}. Every record follows the qa4d sample schema "
        f"(`qa4d/dataset/sample.schema.json`); media paths are relative to the dataset root."
    )
    if len(sp) > 1:
        shared = sorted(set.intersection(*(stats.scenes.get(s, set()) for s in sp)))
        out.append("")
        out.append(
            "Splits are disjoint by scene." if not shared else f"**Warning:** {len(shared)} scene(s) appear in more than one split: {', '.join(shared[:10])}."
        )
    if stats.errors:
        out += ["", f"**{len(stats.errors)} malformed record(s) were left out of these counts.**"]

    if info:
        out += ["", "## Generation settings", "", "From `dataset.json`.", ""]
        out.append(md_table(["setting", "value"], ((k, json.dumps(info[k], sort_keys=True)) for k in sorted(info)), 2))

    out += ["", "## Counts per split", ""]
    out.append(
        md_table(
            ["split", "samples", "scenes", "media files"],
            ((s, stats.n[s], len(stats.scenes.get(s, ())), len(stats.media.get(s, ()))) for s in sp),
        )
    )

    out += ["", "## Counts per category", ""]
    out.append(md_table(["category", *total_cols], ([c, *_split_cols(stats, stats.by_category, c)] for c in stats.categories())))

    out += ["", "## Counts per task", ""]
    out.append(
        md_table(
            ["task", "category", *total_cols],
            ([t, stats.task_category[t], *_split_cols(stats, stats.by_task, t)] for t in stats.tasks()),
            2,
        )
    )
    if "counts" in plots:
        out += ["", f"![Samples per task and split]({plots['counts']})"]
    out += _source_section(info.get("by_source") if info else None)

    out += ["", "## Answer formats", ""]
    fmts = sorted({f for f, _ in stats.by_format})
    out.append(md_table(["answer format", *total_cols], ([f, *_split_cols(stats, stats.by_format, f)] for f in fmts)))

    label_tasks = [t for t in stats.tasks() if any(k[0] == t for k in stats.labels)]
    if label_tasks:
        out += ["", "## Label distributions", "", "Canonical labels (`meta.label`) of the descriptive tasks."]
        for t in label_tasks:
            labels = sorted({lab for (tt, lab, _) in stats.labels if tt == t})
            rows = [[lab, *_split_cols(stats, stats.labels, (t, lab))] for lab in labels]
            rows.sort(key=lambda r: (-r[-1], r[0]))
            out += ["", f"### {t}", "", md_table(["label", *total_cols], rows)]
        if "labels" in plots:
            out += ["", f"![Label distributions]({plots['labels']})"]

    ans_tasks = sorted({(t, f) for (t, f, _, _) in stats.answers}, key=lambda k: (k[1], stats.task_category[k[0]], k[0]))
    if ans_tasks:
        out += ["", "## Answer distributions", "", "Correct option letters (multiple choice) and yes/no answers, all splits together."]
        mc = [t for t, f in ans_tasks if f == "mc"]
        if mc:
            letters = sorted({a for (t, f, a, _) in stats.answers if f == "mc"})
            rows = []
            for t in mc:
                counts = [sum(stats.answers[t, "mc", a, s] for s in sp) for a in letters]
                rows.append([t, *counts, sum(counts)])
            out += ["", "### Multiple choice: correct letter", "", md_table(["task", *letters, "n"], rows)]
        yn = [t for t, f in ans_tasks if f == "yesno"]
        if yn:
            rows = []
            for t in yn:
                counts = [sum(stats.answers[t, "yesno", a, s] for s in sp) for a in ("yes", "no")]
                rows.append([t, *counts, sum(counts)])
            out += ["", "### Yes/no", "", md_table(["task", "yes", "no", "n"], rows)]
        if "answers" in plots:
            out += ["", f"![Answer distributions]({plots['answers']})"]

    if stats.measurements:
        out += ["", "## Measurements", "", "Scalar `meta.measurement` values (the continuous quantity behind each answer), all splits together.", ""]
        rows = []
        for t in stats.tasks():
            v = stats.measurements.get(t)
            if v:
                a = np.asarray(v)
                rows.append([t, a.size, _fmt_num(a.min()), _fmt_num(float(np.median(a))), _fmt_num(a.max()), _fmt_num(a.mean())])
        out.append(md_table(["task", "n", "min", "median", "max", "mean"], rows))
        if "measurements" in plots:
            out += ["", f"![Measurement histograms]({plots['measurements']})"]
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


def _grid(n: int, width: float = 4.2, height: float = 2.8) -> tuple[Any, list[Any]]:
    import matplotlib.pyplot as plt

    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _stacked_barh(ax: Any, names: Sequence[str], per_split: Mapping[str, Sequence[int]]) -> None:
    left = np.zeros(len(names))
    y = np.arange(len(names))
    for s, vals in per_split.items():
        ax.barh(y, vals, left=left, color=SPLIT_COLORS.get(s, "#888888"), label=s)
        left += np.asarray(vals, dtype=float)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()


def make_plots(stats: DatasetStats) -> dict[str, bytes]:
    """PNG bytes per plot name (counts, labels, answers, measurements); empty plots are left out."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "qa4d", "font.size": 9})
    pngs: dict[str, bytes] = {}
    tasks = stats.tasks()
    if tasks:
        fig, ax = plt.subplots(figsize=(8, 0.35 * len(tasks) + 1.2))
        _stacked_barh(ax, tasks, {s: [stats.by_task[t, s] for t in tasks] for s in stats.splits})
        ax.set_xlabel("samples")
        ax.set_title("Samples per task")
        ax.legend(loc="lower right")
        fig.tight_layout()
        pngs["counts"] = _figure_png(fig)

    label_tasks = [t for t in tasks if any(k[0] == t for k in stats.labels)]
    if label_tasks:
        fig, axes = _grid(len(label_tasks))
        for ax, t in zip(axes, label_tasks):
            labels = sorted({lab for (tt, lab, _) in stats.labels if tt == t})
            labels.sort(key=lambda lab: -sum(stats.labels[t, lab, s] for s in stats.splits))
            _stacked_barh(ax, labels, {s: [stats.labels[t, lab, s] for lab in labels] for s in stats.splits})
            ax.set_title(t, fontsize=9)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        pngs["labels"] = _figure_png(fig)

    ans_keys = sorted({(t, f) for (t, f, _, _) in stats.answers}, key=lambda k: (k[1], stats.task_category[k[0]], k[0]))
    if ans_keys:
        fig, axes = _grid(len(ans_keys), 3.4, 2.6)
        for ax, (t, f) in zip(axes, ans_keys):
            values = ["yes", "no"] if f == "yesno" else sorted({a for (tt, ff, a, _) in stats.answers if tt == t and ff == f})
            x = np.arange(len(values))
            bottom = np.zeros(len(values))
            for s in stats.splits:
                c = np.array([stats.answers[t, f, a, s] for a in values], dtype=float)
                ax.bar(x, c, bottom=bottom, color=SPLIT_COLORS.get(s, "#888888"), label=s)
                bottom += c
            ax.set_xticks(x, values)
            ax.set_title(f"{t} ({f})", fontsize=9)
        axes[0].legend(fontsize=7)
        fig.tight_layout()
        pngs["answers"] = _figure_png(fig)

    m_tasks = [t for t in tasks if stats.measurements.get(t)]
    if m_tasks:
        fig, axes = _grid(len(m_tasks), 3.6, 2.6)
        for ax, t in zip(axes, m_tasks):
            v = np.asarray(stats.measurements[t])
            ax.hist(v, bins=min(30, max(5, int(np.sqrt(v.size)) * 2)), color="#55A868")
            ax.set_title(t, fontsize=9)
            ax.set_ylabel("samples")
        fig.tight_layout()
        pngs["measurements"] = _figure_png(fig)
    return pngs


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
        p = out_dir / PLOT_DIR / f"{key}.png"
        write_bytes_atomic(p, data)
        plot_paths.append(p)
        refs[key] = f"{PLOT_DIR}/{key}.png"
    card = out_dir / CARD_FILE
    write_text_atomic(card, render_card(name, stats, info, refs))
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
