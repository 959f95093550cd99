"""Write a static HTML gallery of a qa4d dataset.

Reads DATASET/<split>/samples.jsonl (records validated against the sample schema) and the sizes of
the media they reference. Writes OUT/index.html (OUT defaults to DATASET/gallery): one card per
sample of every family with its images (visual prompts, MultiSPA's lettered dots and Set-of-Marks
marks are already drawn into them), captioned as the questions name them (Image-1, Image-2 for
image sets; the marked prefix image of a Set-of-Marks record; frame and time otherwise), the point
track drawn over the query frame as SVG (filled = visible, hollow = not visible), MultiSPA's
coordinate points (meta.points) and the r4d regions (meta.regions) over their image with the
<obj_k> -> mark legend, the stated time window (frames inside it highlighted), timebench's frame
rate and step, the question, the options with the correct one highlighted, the answer, the numeric
answer value with its unit, the measurement and the label; family, task and split filters (also
settable from the URL, e.g. index.html#family=r4d&task=r4d/translational&split=bench; a bare task
name matches it in every family) with per-task counts. The page is
self-contained and works offline: plain JS and CSS inline, images referenced by paths relative to
OUT, no network. --limit caps the samples per split, taken round-robin over tasks so every task is
shown. A bad record or missing image is reported and the exit code is 1; the rest is written.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence
from urllib.parse import quote

from PIL import Image
from tqdm import tqdm

from qa4d._io import resolve_inside
from qa4d.export.card_stats import label_text, value_unit
from qa4d.export.records import render_answer, sorted_options, write_text_atomic
from qa4d.dataset import SPLITS, DatasetError, RecordError, iter_samples, iter_splits, read_dataset_info

TEMPLATE_PATH = Path(__file__).resolve().parent / "templates" / "gallery.html"
DEFAULT_LIMIT = 200


def _is_true_motion(record: dict) -> bool:
    measurement = record["meta"].get("measurement")
    kind = measurement.get("kind") if isinstance(measurement, dict) else None
    return kind == "true_motion" or "true_motion" in record["task"]


def task_key(record: Mapping[str, Any]) -> str:
    """'family/task': task names are unique within a family only."""
    return f"{record['family']}/{record['task']}"


def select_round_robin(records: Sequence[Mapping[str, Any]], limit: int | None) -> list[Mapping[str, Any]]:
    """At most `limit` records, taking one per task in turn (tasks sorted, file order inside a
    task) so that a small limit still shows every task. limit None or <= 0: all, in file order."""
    if not limit or limit <= 0 or len(records) <= limit:
        return list(records)
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_task.setdefault(task_key(r), []).append(r)
    queues = [by_task[t] for t in sorted(by_task)]
    chosen: list[Mapping[str, Any]] = []
    depth = 0
    while len(chosen) < limit:
        for q in queues:
            if depth < len(q) and len(chosen) < limit:
                chosen.append(q[depth])
        depth += 1
    return chosen


SIGNIFICANT_DIGITS = 4  # measurements in the gallery: 1.237, 0.0412, 1234 (the data keeps full precision)


def rounded(value: Any, digits: int = SIGNIFICANT_DIGITS) -> Any:
    """A JSON value with every float rounded to `digits` significant digits (ints, bools, strings,
    None unchanged; lists and dicts recursively)."""
    if isinstance(value, float):
        return float(f"{value:.{digits}g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: rounded(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v, digits) for v in value]
    return value


def _compact(value: Any) -> str:
    return json.dumps(rounded(value), ensure_ascii=False, separators=(", ", ": "))


def sample_view(record: Mapping[str, Any], split: str, dataset: Path, out_dir: Path, problems: list[str]) -> dict[str, Any]:
    """The data one gallery card shows; image sizes are read from the files (header only)."""
    track = _track(record)
    return {
        "id": record["id"],
        "split": split,
        "family": record["family"],
        "key": f"{record['family']}/{record['task']}",
        "task": record["task"],
        "category": record["category"],
        "scene_id": record["scene_id"],
        "answer_format": record["answer_format"],
        "question": record["question"],
        "options": [list(kv) for kv in sorted_options(record)] or None,
        "answer": record["answer"],
        "answer_text": render_answer(record),
        "meta": [[k, v] for k, v in _shown_meta(record, track is not None)],
        "frames": _frames(record, dataset, out_dir, problems),
        "track": track,
        **media_roles(record),
        "points": image_points(record),
        "regions": regions(record),
        "time_window": _time_window(record["meta"]),
        "timing": timing(record),
    }


def _frames(record: Mapping[str, Any], dataset: Path, out_dir: Path, problems: list[str]) -> list[dict[str, Any]]:
    """Per image: its path relative to the gallery, scene frame, time and size; an image outside
    the dataset or unreadable is reported in `problems` and named in 'missing'."""
    frames = []
    for rel, fr, t in zip(record["media"], record["frame_indices"], record["timestamps"]):
        w = h = 0
        missing = None
        try:
            path = resolve_inside(dataset, rel)
        except ValueError as exc:  # never read, never linked from the gallery
            problems.append(f"record {record['id']!r}: media {exc}")
            frames.append({"src": "", "frame": fr, "t": t, "w": 0, "h": 0, "missing": str(rel)})
            continue
        try:
            with Image.open(path) as im:
                w, h = im.size
        except (OSError, ValueError) as exc:
            missing = rel
            problems.append(f"record {record['id']!r}: cannot read media {path}: {exc}")
        src = Path(os.path.relpath(path.resolve(), out_dir.resolve())).as_posix()
        frames.append({"src": quote(src), "frame": fr, "t": t, "w": w, "h": h, "missing": missing})
    return frames


def _shown_meta(record: Mapping[str, Any], has_track: bool) -> list[tuple[str, str]]:
    """(name, text) of the meta fields a card lists: the value with its unit, the measurement, the
    label, the objects, and for a point track its object id."""
    meta = record["meta"]
    shown = []
    if "value" in meta:
        unit = value_unit(record)
        shown.append(("value", _value_text(meta["value"]) + (f" {unit}" if unit else "")))
    shown.append(("measurement", _compact(meta.get("measurement"))))
    if "label" in meta:
        shown.append(("label", label_text(meta["label"])))
    shown.append(("objects", _compact(meta.get("objects", []))))
    if has_track:
        shown.append(("object_id", str(meta.get("object_id"))))
    return shown


def _track(record: Mapping[str, Any]) -> dict[str, Any] | None:
    """A point-track record's query and track points, and the image they are drawn over."""
    meta = record["meta"]
    if "track" not in meta or "query" not in meta:
        return None
    q = meta["query"]
    # the track is drawn over the image the query point is given in: meta.query.media when the
    # engine records it, else the first image showing the query's scene frame
    idx = q.get("media")
    if not isinstance(idx, int) or not 0 <= idx < len(record["media"]):
        idx = record["frame_indices"].index(q["frame"]) if q["frame"] in record["frame_indices"] else 0
    return {
        "query": {"frame": q["frame"], "x": q["x"], "y": q["y"], "visible": True},
        "points": [{"frame": p["frame"], "x": p["x"], "y": p["y"], "visible": bool(p["visible"])} for p in meta["track"]],
        "media_index": idx,
        # true-motion coordinates live in the fixed view of the query frame, not in the images of
        # the target times: they are drawn over the query frame only
        "fixed_view": _is_true_motion(record),
    }


def _value_text(value: Any) -> str:
    return value if isinstance(value, str) else _compact(value)


def media_roles(record: Mapping[str, Any]) -> dict[str, Any]:
    """How the images are named: 'images' (an image set, Image-1, Image-2, ...: meta.media_kind),
    'frames' otherwise; and the index of the Set-of-Marks prefix image (meta.som_image, the first
    image of an r4d record) or None."""
    meta = record["meta"]
    kind = "images" if meta.get("media_kind") == "images" else "frames"
    som = meta.get("som_image")
    som_index = record["media"].index(som) if isinstance(som, str) and som in record["media"] else None
    return {"media_kind": kind, "som_index": som_index}


def image_points(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """MultiSPA's referenced points (meta.points: image k, x and y on the 0-999 scale, label) as
    fractions of the image, for the images the question gives them in coordinates only: an image
    whose points are drawn (a meta.refs prompt on it) is left as drawn."""
    meta = record["meta"]
    pts = meta.get("points")
    if not isinstance(pts, list):
        return []
    drawn = {r.get("media") for r in meta.get("refs") or [] if isinstance(r, dict) and r.get("mode") in ("prompt", "mark")}
    scale = float(meta.get("scale") or 1000.0)
    out = []
    for p in pts:
        if not isinstance(p, dict) or p.get("image") in drawn or not isinstance(p.get("image"), int):
            continue
        if not 0 <= p["image"] < len(record["media"]):
            continue
        out.append({"image": p["image"], "x": float(p["x"]) / scale, "y": float(p["y"]) / scale,
                    "label": str(p.get("label", "")), "raw": [p["x"], p["y"]]})
    return out


def regions(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The <obj_k> regions of a Set-of-Marks record (meta.regions: obj_k -> object_id and the mark's
    centre as fractions of the marked image), in k order, with the mark number k."""
    reg = record["meta"].get("regions")
    if not isinstance(reg, dict):
        return []
    def k_of(name: str) -> int:
        m = re.fullmatch(r"obj_(\d+)", name)
        return int(m.group(1)) if m else 10**9
    return [{"name": name, "mark": k_of(name), "object_id": v.get("object_id"), "x": float(v["x"]), "y": float(v["y"])}
            for name, v in sorted(reg.items(), key=lambda kv: (k_of(kv[0]), kv[0])) if isinstance(v, dict)]


def _time_window(meta: Mapping[str, Any]) -> list[float] | None:
    tw = meta.get("time_window")
    if isinstance(tw, list) and len(tw) == 2 and all(isinstance(t, (int, float)) for t in tw):
        return [float(tw[0]), float(tw[1])]
    return None


def timing(record: Mapping[str, Any]) -> str | None:
    """A clip's stated timing (timebench: meta.fps and meta.step): frame rate, image spacing and
    the duration from the first image to the last; None for records without a frame rate."""
    meta = record["meta"]
    fps = meta.get("fps")
    if not isinstance(fps, (int, float)) or fps <= 0:
        return None
    text = f"{fps:g} fps"
    step = meta.get("step")
    if isinstance(step, (int, float)) and step > 0:
        text += f", one image every {step:g} frames ({step / fps:.3g} s)"
    ts = record["timestamps"]
    if len(ts) > 1:
        text += f", {len(ts)} images over {ts[-1] - ts[0]:.3g} s"
    return text


def _embed_json(data: Any) -> str:
    # '<' only occurs inside JSON strings, where \u003c is equivalent: no '</script>' can end the block
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_gallery(title: str, payload: Mapping[str, Any]) -> str:
    template = TEMPLATE_PATH.read_text(encoding="utf-8")
    values = {"TITLE": html.escape(title), "DATA": _embed_json(payload)}
    # one pass, so text inside a value is never taken for a placeholder
    return re.sub(r"\{\{(TITLE|DATA)\}\}", lambda m: values[m.group(1)], template)


def write_gallery(
    dataset: str | Path, out: str | Path | None = None, split: str = "bench", limit: int | None = DEFAULT_LIMIT
) -> tuple[Path, int, list[str]]:
    """Write the gallery; return (index.html path, samples shown, problems reported)."""
    dataset = Path(dataset)
    out_dir = Path(out) if out is not None else dataset / "gallery"
    problems: list[str] = []
    samples: list[dict[str, Any]] = []
    totals: Counter = Counter()
    shown: Counter = Counter()
    splits = []
    for sp in iter_splits(dataset, split):
        errors: list[RecordError] = []
        records = list(tqdm(iter_samples(sp.samples_path, errors), desc=f"view {sp.name}", unit="rec", file=sys.stderr, disable=None))
        problems += [str(e) for e in errors]
        splits.append(sp.name)
        totals.update(task_key(r) for r in records)
        for r in select_round_robin(records, limit):
            samples.append(sample_view(r, sp.name, dataset, out_dir, problems))
            shown[task_key(r)] += 1
    info = read_dataset_info(dataset)
    name = str(info.get("name") or dataset.resolve().name)
    fam_total, fam_shown = Counter(), Counter()
    for t, n in totals.items():
        fam_total[t.split("/", 1)[0]] += n
        fam_shown[t.split("/", 1)[0]] += shown[t]
    payload = {
        "dataset": name,
        "splits": splits,
        "families": [{"family": f, "total": fam_total[f], "shown": fam_shown[f]} for f in sorted(fam_total)],
        "tasks": [{"task": t, "total": totals[t], "shown": shown[t]} for t in sorted(totals)],
        "samples": samples,
    }
    index = out_dir / "index.html"
    write_text_atomic(index, render_gallery(f"qa4d gallery: {name} ({', '.join(splits)})", payload))
    return index, len(samples), problems


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", type=Path, metavar="DATASET", help="dataset directory (with train/ and bench/)")
    parser.add_argument("--out", type=Path, metavar="DIR", default=None, help="gallery directory (default: DATASET/gallery)")
    parser.add_argument("--split", default="bench", choices=[*SPLITS, "all"], help="split(s) to show (default: bench)")
    parser.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help=f"at most N samples per split, round-robin over tasks (default: {DEFAULT_LIMIT}; 0: all)"
    )


def run(args: argparse.Namespace) -> int:
    try:
        index, n, problems = write_gallery(args.dataset, args.out, args.split, args.limit)
    except DatasetError as exc:
        print(f"qa4d view: error: {exc}", file=sys.stderr)
        return 2
    for p in problems:
        print(f"qa4d view: {p}", file=sys.stderr)
    print(f"wrote {index} ({n} samples)")
    return 1 if problems else 0
