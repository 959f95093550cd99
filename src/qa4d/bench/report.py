"""Evaluation reports: Markdown and a self-contained HTML page (tables + an inline PNG bar plot).

    write_run_report(run_dir, metrics, title)  -> RUN/report.md, RUN/report.html (one run)
    compare_runs(run_dirs, out_dir)             -> OUT/report.md, OUT/report.html (side by side)

Every table shows accuracy in percent with the 95% bootstrap interval; sections: overall, per
benchmark grouping (`by_group`), per category and per task. The plot shows accuracy per category
(per task when the benchmark has no categories), one bar per run, with the interval as error bars.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

from qa4d._io import write_text_atomic as atomic_write_text

__all__ = ["load_run", "run_items", "coverage_warnings", "write_run_report", "compare_runs", "render_markdown",
           "render_html", "SECTIONS"]

SECTIONS = (("by_group", "Groupings"), ("by_category", "Per category"), ("by_task", "Per task"))


def load_run(run_dir: Path) -> dict:
    path = Path(run_dir) / "metrics.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no metrics.json (is {run_dir} an evaluation run or a score output?)") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None


def run_items(run_dir: Path) -> list[str] | None:
    """Item ids a run scored (RUN/scored.jsonl, written by `qa4d eval` and `qa4d score`), in file
    order; None when the run has no readable scored.jsonl."""
    path = Path(run_dir) / "scored.jsonl"
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, UnicodeDecodeError):
        return None
    ids = []
    for line in text.splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and isinstance(rec.get("id"), str):
            ids.append(rec["id"])
    return ids


def coverage_warnings(runs: list[tuple[str, dict]], items: list[list[str] | None]) -> list[str]:
    """Warnings when runs compared side by side do not cover the same items (one line each):
    different benchmarks, different item sets (counted, with an example id), or a run whose items
    cannot be read (then only the counts are compared)."""
    out = []
    benches = sorted({str(m.get("benchmark", "")) for _, m in runs})
    if len(benches) > 1:
        out.append(f"runs are on different benchmarks ({', '.join(benches)}): their numbers are not comparable")
    known = [(name, set(ids)) for (name, _), ids in zip(runs, items) if ids is not None]
    for (name, _), ids in zip(runs, items):
        if ids is None:
            out.append(f"{name}: no readable scored.jsonl, its items cannot be compared with the other runs'")
    if len(known) > 1:
        union = set().union(*(ids for _, ids in known))
        for name, ids in known:
            missing = sorted(union - ids)
            if missing:
                out.append(f"{name}: covers {len(ids)} of the {len(union)} items of these runs; "
                           f"{len(missing)} missing (e.g. {missing[0]!r})")
    counts = {name: (m.get("overall") or {}).get("n") for name, m in runs}
    if len(known) < len(runs) and len({n for n in counts.values() if n is not None}) > 1:
        out.append("runs have different item counts: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return out


def _pct(x: Any) -> str:
    return "–" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{100 * float(x):.1f}"


def _cell(stats: dict | None) -> str:
    if not stats:
        return "–"
    lo, hi = (stats.get("ci95") or [None, None])[:2]
    ci = f" [{_pct(lo)}, {_pct(hi)}]" if lo is not None and hi is not None else ""
    return f"{_pct(stats.get('accuracy'))}{ci}"


def _tables(runs: list[tuple[str, dict]]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(section title, header, rows) for every section; cells are plain text."""
    names = [n for n, _ in runs]
    out = []
    head = ["run", "benchmark", "n", "accuracy % [95% CI]", "chance-adjusted %", "unparsed", "errors", "missing", "judged"]
    rows = []
    for n, m in runs:
        o = m.get("overall", {})
        rows.append([n, str(m.get("benchmark", "")), str(o.get("n", "")), _cell(o), _pct(o.get("chance_adjusted")),
                     str(o.get("unparsed", "")), str(o.get("errors", "")), str(o.get("missing", "")), str(o.get("judged", ""))])
    out.append(("Overall", head, rows))
    for key, title in SECTIONS:
        groups: list[str] = []
        for _, m in runs:
            for g in m.get(key, {}) or {}:
                if g not in groups:
                    groups.append(g)
        if not groups:
            continue
        head = ["group", "n"] + names
        rows = []
        for g in groups:
            ns = [str((m.get(key) or {}).get(g, {}).get("n", "")) for _, m in runs]
            n = next((x for x in ns if x), "")
            rows.append([g, n] + [_cell((m.get(key) or {}).get(g)) for _, m in runs])
        out.append((title, head, rows))
    return out


def _md_escape(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def render_markdown(title: str, runs: list[tuple[str, dict]], warnings: list[str] | None = None) -> str:
    lines = [f"# {title}", ""]
    lines.append("Accuracy in percent with its 95% bootstrap confidence interval; unparsed answers, "
                 "model errors and missing answers count as wrong.")
    if warnings:
        lines += ["", "## Warnings", ""] + [f"- {_md_escape(w)}" for w in warnings]
    for section, head, rows in _tables(runs):
        lines += ["", f"## {section}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(_md_escape(c) for c in r) + " |" for r in rows]
    lines.append("")
    return "\n".join(lines)


def _plot_png(runs: list[tuple[str, dict]]) -> bytes | None:
    key = "by_category" if any(m.get("by_category") for _, m in runs) else "by_task"
    groups: list[str] = []
    for _, m in runs:
        for g in m.get(key, {}) or {}:
            if g not in groups:
                groups.append(g)
    if not groups:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    n_runs = len(runs)
    width = 0.8 / n_runs
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(groups) * max(1, n_runs) + 2), 4.0), dpi=100)
    x = np.arange(len(groups))
    for i, (name, m) in enumerate(runs):
        stats = [(m.get(key) or {}).get(g) or {} for g in groups]
        acc = np.array([s.get("accuracy") if s.get("accuracy") is not None else np.nan for s in stats], dtype=float) * 100
        ci = [s.get("ci95") or [None, None] for s in stats]
        lo = np.array([c[0] if c[0] is not None else np.nan for c in ci], dtype=float) * 100
        hi = np.array([c[1] if c[1] is not None else np.nan for c in ci], dtype=float) * 100
        err = np.vstack([np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)])
        err = np.nan_to_num(err)
        ax.bar(x + (i - (n_runs - 1) / 2) * width, np.nan_to_num(acc), width, yerr=err, capsize=2, label=name)
    ax.set_xticks(x)
    ax.set_xticklabels(groups, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("accuracy per " + ("category" if key == "by_category" else "task"))
    if n_runs > 1:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


_CSS = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.25em .6em;"
        "text-align:right}th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}")


def render_html(title: str, runs: list[tuple[str, dict]], warnings: list[str] | None = None) -> str:
    esc = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>",
             f"<style>{_CSS}</style></head><body><h1>{esc(title)}</h1>",
             "<p>Accuracy in percent with its 95% bootstrap confidence interval; unparsed answers, "
             "model errors and missing answers count as wrong.</p>"]
    if warnings:
        parts.append("<h2>Warnings</h2><ul class='warnings'>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    png = _plot_png(runs)
    if png is not None:
        parts.append(f"<img alt='accuracy per category' src='data:image/png;base64,{base64.b64encode(png).decode('ascii')}'>")
    for section, head, rows in _tables(runs):
        parts.append(f"<h2>{esc(section)}</h2><table><thead><tr>")
        parts += [f"<th>{esc(h)}</th>" for h in head]
        parts.append("</tr></thead><tbody>")
        for r in rows:
            parts.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_run_report(run_dir: Path, metrics: dict, title: str | None = None) -> tuple[Path, Path]:
    """Write RUN/report.md and RUN/report.html for one run; returns their paths."""
    run_dir = Path(run_dir)
    title = title or f"Evaluation: {run_dir.name}"
    runs = [(run_dir.name or "run", metrics)]
    md, page = run_dir / "report.md", run_dir / "report.html"
    atomic_write_text(md, render_markdown(title, runs))
    atomic_write_text(page, render_html(title, runs))
    return md, page


def compare_runs(
    run_dirs: list[Path], out_dir: Path, title: str = "Evaluation runs compared", warnings: list[str] | None = None
) -> tuple[Path, Path]:
    """Side-by-side report of several runs (columns in the order given). Warnings about the runs'
    coverage (`coverage_warnings`) head the report and are appended to `warnings` when given."""
    runs: list[tuple[str, dict]] = []
    used: dict[str, int] = {}
    for d in run_dirs:
        d = Path(d)
        name = d.name or str(d)
        if name in used:  # two runs in different parents with the same name
            used[name] += 1
            name = f"{name} ({used[name]})"
        else:
            used[name] = 1
        runs.append((name, load_run(d)))
    found = coverage_warnings(runs, [run_items(Path(d)) for d in run_dirs]) if len(runs) > 1 else []
    if warnings is not None:
        warnings.extend(found)
    out_dir = Path(out_dir)
    md, page = out_dir / "report.md", out_dir / "report.html"
    atomic_write_text(md, render_markdown(title, runs, found))
    atomic_write_text(page, render_html(title, runs, found))
    return md, page
