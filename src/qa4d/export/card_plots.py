"""The plots of the dataset card (`qa4d card`): PNG figures drawn from the numbers of
`qa4d.export.card_stats` (bar heights are exactly its counts). Matplotlib (Agg) is imported only
when a figure is made; the PNGs carry no software or date metadata, so the same dataset gives
the same bytes.
"""

from __future__ import annotations

import io
import math
import re
from typing import Any, Sequence

import numpy as np

from qa4d.export.card_stats import Bars, DatasetStats, Histogram, answer_bars, histograms, label_bars

PLOT_DIR = "card"
SPLIT_COLORS = {"train": "#4C72B0", "bench": "#DD8452"}


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
