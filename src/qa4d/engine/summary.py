"""What a `qa4d generate` run reports: the summary (counts, skip reasons, broken scenes, per
source), dataset.json's content, and the table printed at the end.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa4d.engine.registry import thresholds_for
from qa4d.engine.thresholds import thresholds_dict
from qa4d.engine.writer import SPLITS

DATASET_FORMAT = "qa4d.dataset/1"


@dataclass
class Summary:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)      # split -> task -> n
    skips: dict[str, dict[str, int]] = field(default_factory=dict)       # task -> reason -> n
    broken: list[dict[str, Any]] = field(default_factory=list)
    scene_skips: dict[str, int] = field(default_factory=dict)            # reason -> scenes skipped
    by_source: dict[str, dict[str, Any]] = field(default_factory=dict)   # source -> scenes, counts, skips


@dataclass
class Made:
    """What phase 2 wrote, counted for dataset.json."""

    counts: dict[str, Counter]                    # split -> task -> records
    formats: dict[str, dict[str, Counter]]        # split -> task -> format -> records
    by_source: dict[str, Counter]                 # source -> task -> records


def dataset_info(cfg, scenes_root: Path, fp: str, tasks, split, sources: dict[str, str], made: Made,
                  summary: Summary) -> dict[str, Any]:
    """The content of dataset.json."""
    task_names = [t.key for t in tasks]
    return {
        "format": DATASET_FORMAT,
        "fingerprint": fp,
        "settings": {**{k: v for k, v in cfg.to_json().items() if k not in ("out", "workers")},
                     "scenes": str(scenes_root.resolve())},
        "tasks": [{"name": t.name, "family": t.family, "category": t.category} for t in tasks],
        "splits": {s: {"scenes": sorted(sid for sid in sources if split[sid] == s),
                       "samples": sum(made.counts[s].values())} for s in SPLITS},
        "counts": summary.counts,
        "formats": {s: {t: dict(sorted(made.formats[s][t].items())) for t in task_names} for s in SPLITS},
        "skips": summary.skips,
        "by_source": summary.by_source,
        "scene_skips": summary.scene_skips,
        "broken_scenes": summary.broken,
        "thresholds": {fam: {src: thresholds_dict(thresholds_for(fam, src, cfg.thresholds)) for src in sorted(set(sources.values()))}
                       for fam in cfg.families},
    }


def by_source(made_by_source, sources, source_skips, task_names) -> dict[str, dict[str, Any]]:
    """Per scene source: scenes, samples per task (both splits; `made_by_source`: source -> task
    -> count; `sources`: scene id -> source), and per task the phase-1 skip reasons (a task absent from `counts` was made from
    none of that source's scenes)."""
    out: dict[str, dict[str, Any]] = {}
    for src in sorted(source_skips):
        made = made_by_source.get(src, Counter())
        out[src] = {
            "scenes": sum(1 for v in sources.values() if v == src),
            "counts": {t: made[t] for t in task_names if made[t]},
            "skips": {t: dict(sorted(source_skips[src][t].items())) for t in task_names if source_skips[src][t]},
        }
    return out


def print_summary(summary: Summary, file=None) -> None:
    file = file or sys.stderr
    tasks = list(summary.skips)
    print(f"{'task':<36}{'train':>7}{'bench':>7}  skipped (reason: count)", file=file)
    for t in tasks:
        reasons = ", ".join(f"{r}: {n}" for r, n in sorted(summary.skips[t].items(), key=lambda kv: -kv[1])[:3])
        print(f"{t:<36}{summary.counts.get('train', {}).get(t, 0):>7}{summary.counts.get('bench', {}).get(t, 0):>7}  {reasons}",
              file=file)
    if len(summary.by_source) > 1 or any(s != "sim" for s in summary.by_source):
        for src, info in summary.by_source.items():
            missing = [t for t in tasks if t not in info["counts"]]
            print(f"source {src} ({info['scenes']} scenes): {sum(info['counts'].values())} samples; "
                  f"no sample for {', '.join(missing) or 'none'}", file=file)
            for t in missing:
                reasons = ", ".join(f"{r}: {n}" for r, n in sorted(info["skips"].get(t, {}).items(), key=lambda kv: -kv[1])[:2])
                print(f"  {t}: {reasons or 'dropped in balancing'}", file=file)
    for b in summary.broken:
        print(f"broken scene {b['scene']}: {b['error']}", file=file)
