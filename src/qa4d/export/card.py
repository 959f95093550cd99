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
import json
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from qa4d.dataset import DatasetError, read_dataset_info
from qa4d.export.card_plots import make_plots, plot_file
from qa4d.export.card_stats import DatasetStats, answer_bars, collect_stats, histograms, label_bars
from qa4d.export.records import write_bytes_atomic, write_text_atomic

CARD_FILE = "CARD.md"
FAMILIES_PATH = Path(__file__).resolve().parent / "templates" / "families.json"


@lru_cache(maxsize=1)
def family_descriptions() -> dict[str, dict[str, str]]:
    data = json.loads(FAMILIES_PATH.read_text(encoding="utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


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


def doc_link(family: str) -> str:
    """The family's documentation page, named by its path in the qa4d repository (not a link
    relative to this machine's checkout: the card's bytes must not depend on where it is written)."""
    doc = family_descriptions().get(family, {}).get("doc")
    return f"`{doc}` in the qa4d repository" if doc else ""


def _total_cols(stats: DatasetStats) -> list[str]:
    """The count columns of a table: one per split, and 'total' when there are several."""
    return stats.splits + (["total"] if len(stats.splits) > 1 else [])


def _plot_ref(plots: Mapping[str, str], key: str, alt: str) -> list[str]:
    """The Markdown image of plot `key` when it was made, else nothing."""
    return ["", f"![{alt}]({plots[key]})"] if key in plots else []


def _family_section(stats: DatasetStats, family: str, plots: Mapping[str, str]) -> list[str]:
    """'## Family `F`': what it measures, its counts, and its answer distributions."""
    return (_family_header(stats, family) + _family_counts(stats, family) + _numeric_answers(stats, family, plots)
            + _bars_section(stats, family, plots, "answers") + _bars_section(stats, family, plots, "labels")
            + _measurements(stats, family))


def _family_header(stats: DatasetStats, family: str) -> list[str]:
    sp = stats.splits
    desc = family_descriptions().get(family, {})
    out = ["", f"## Family `{family}`" + (f": {desc['title']}" if desc.get("title") else ""), ""]
    if desc.get("measures"):
        out.append(desc["measures"])
    link = doc_link(family)
    out += ["", f"Documentation: {link}." if link else "No documentation page is known for this family."]
    n = [stats.by_family[family, s] for s in sp]
    out += ["", f"{sum(n)} samples ({', '.join(f'{s} {c}' for s, c in zip(sp, n))}), "
            f"{len(stats.tasks(family))} tasks in {len(stats.categories(family))} categories."]
    return out


def _family_counts(stats: DatasetStats, family: str) -> list[str]:
    """Samples per task (with its answer formats), per category and per answer format."""
    total_cols = _total_cols(stats)
    rows = []
    for key in stats.tasks(family):
        fmts = ", ".join(f"{f} {c}" for f, c in sorted((f, c) for (k, f), c in stats.task_format.items() if k == key))
        rows.append([key[1], stats.task_category[key], fmts, *_split_cols(stats, stats.by_task, (key,))])
    out = ["", f"### {family}: tasks", "", md_table(["task", "category", "formats", *total_cols], rows, 3)]

    out += ["", f"### {family}: categories", ""]
    out.append(md_table(["category", *total_cols], ([c, *_split_cols(stats, stats.by_category, (family, c))] for c in stats.categories(family))))

    out += ["", f"### {family}: answer formats", ""]
    fmts = sorted({f for (fa, f, _) in stats.family_format if fa == family})
    out.append(md_table(["answer format", *total_cols], ([f, *_split_cols(stats, stats.family_format, (family, f))] for f in fmts)))
    return out


def _numeric_answers(stats: DatasetStats, family: str, plots: Mapping[str, str]) -> list[str]:
    """min, median, max and mean of each task's `meta.value` component per split, and the plot."""
    hists = histograms(stats, family)
    if not hists:
        return []
    out = ["", f"### {family}: numeric answers", "",
           "Values of `meta.value` (the machine-readable answer) per task, in their unit; vectors and "
           "coordinates per component.", ""]
    rows = []
    for h in hists:
        for s in stats.splits:
            v = np.asarray(stats.values[h.key, h.component, h.unit].get(s, []), float)
            if v.size:
                rows.append([h.key[1], h.component, h.unit, s, v.size, _fmt_num(v.min()), _fmt_num(float(np.median(v))),
                             _fmt_num(v.max()), _fmt_num(v.mean())])
            else:
                rows.append([h.key[1], h.component, h.unit, s, 0, "", "", "", ""])
    out.append(md_table(["task", "value", "unit", "split", "n", "min", "median", "max", "mean"], rows, 4))
    return out + _plot_ref(plots, f"{family}/values", f"{family}: numeric answer values, train and bench")


# what -> (the panels, the note under the heading, the plot's alt text)
_BAR_SECTIONS = {
    "answers": (answer_bars, "Correct option letters, yes/no answers and correct option texts (tasks with "
                "numeric answers are shown by value above), per split.", "answer distributions"),
    "labels": (label_bars, "Canonical labels (`meta.label`) of the descriptive tasks.", "label distributions"),
}


def _bars_section(stats: DatasetStats, family: str, plots: Mapping[str, str], what: str) -> list[str]:
    """what 'answers' (correct letters, yes/no, answer texts) or 'labels': one table per panel
    (the panel's kind names its first column) and the plot."""
    make, note, alt = _BAR_SECTIONS[what]
    bars = make(stats, family)
    if not bars:
        return []
    sp = stats.splits
    out = ["", f"### {family}: {what}", "", note]
    for b in bars:
        rows = [[name, *[b.counts[s][i] for s in sp], *([sum(b.counts[s][i] for s in sp)] if len(sp) > 1 else [])]
                for i, name in enumerate(b.names)]
        out += ["", f"#### {family}/{b.key[1]}: {b.kind}", "", md_table([b.kind, *_total_cols(stats)], rows)]
    return out + _plot_ref(plots, f"{family}/{what}", f"{family}: {alt}, train and bench")


def _measurements(stats: DatasetStats, family: str) -> list[str]:
    """min, median, max and mean of each task's scalar `meta.measurement`, all splits together."""
    meas = [k for k in stats.tasks(family) if stats.measurements.get(k)]
    if not meas:
        return []
    out = ["", f"### {family}: measurements", "",
           "Scalar `meta.measurement` values (the continuous quantity behind each answer), all splits together.", ""]
    rows = []
    for k in meas:
        a = np.asarray(stats.measurements[k])
        rows.append([k[1], a.size, _fmt_num(a.min()), _fmt_num(float(np.median(a))), _fmt_num(a.max()), _fmt_num(a.mean())])
    out.append(md_table(["task", "n", "min", "median", "max", "mean"], rows))
    return out


def render_card(name: str, stats: DatasetStats, info: Mapping[str, Any], plots: Mapping[str, str]) -> str:
    """CARD.md: the summary, the generation settings, the dataset's counts, one section per family
    and the counts per source. `plots`: plot name -> its path relative to the card."""
    out = _summary(name, stats) + _settings_section(info) + _dataset_counts(stats, plots)
    for f in stats.families():
        out += _family_section(stats, f, plots)
    out += _source_section(info.get("by_source") if info else None)
    return "\n".join(out) + "\n"


def _summary(name: str, stats: DatasetStats) -> list[str]:
    """The title and one paragraph: samples, scenes, tasks, families; whether splits share scenes."""
    sp = stats.splits
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
    return out


def _dataset_counts(stats: DatasetStats, plots: Mapping[str, str]) -> list[str]:
    """Counts per split, family, task (with the plot) and answer format."""
    sp = stats.splits
    total_cols = _total_cols(stats)
    out = ["", "## Counts per split", ""]
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
    out += _plot_ref(plots, "counts", "Samples per task and split")

    out += ["", "## Answer formats", ""]
    fmts = sorted({f for f, _ in stats.by_format})
    out.append(md_table(["answer format", *total_cols], ([f, *_split_cols(stats, stats.by_format, (f,))] for f in fmts)))
    return out


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
