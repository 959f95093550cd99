"""track: a point track, a JSON list of {"frame", "x", "y", "visible"}; TAP-Vid metrics.

Frames are named as the question names them (qa4d: the 1-based position of the image among the
images shown); x, y are in `meta["coords"]` (qa4d: "unit", [0, 1]). Read: a JSON list (fenced or
bare, or inside an <answer> tag), else lines in the style `frame 3: (120.5, 88) visible` /
`frame 4: occluded`. Scored: TAP-Vid average Jaccard over the frames other than the query frame
(occlusion accuracy when the track has no visible scored point), graded (correct None), sub-metrics
in `extra`; chance 0. Random: uniform positions and visibility. No audit baseline.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, FieldError, Item, json_list
from qa4d.answers.quantities import _NUM, _to_float
from qa4d.answers.registry import register_format
from qa4d.answers.statements import answer_tags, strip_reasoning
from qa4d.answers.values import image_size, in_coords, num
from qa4d.bench import metrics as M


_TRACK_LINE_RE = re.compile(
    rf"frame\s*(?P<f>\d+)\s*[:=\-]?\s*(?:[\(\[]\s*(?P<x>{_NUM})\s*,\s*(?P<y>{_NUM})\s*[\)\]])?"
    r"\s*,?\s*(?P<vis>not\s+visible|invisible|occluded|hidden|visible)?",
    re.IGNORECASE,
)


def _track_from_json(obj: Any) -> list[dict] | None:
    if isinstance(obj, dict):
        for key in ("track", "points", "tracks"):
            if isinstance(obj.get(key), list):
                obj = obj[key]
                break
    if not isinstance(obj, list) or not obj:
        return None
    out = []
    for p in obj:
        if not isinstance(p, dict) or "frame" not in p:
            return None
        try:
            frame = int(p["frame"])
            vis = p.get("visible", p.get("visibility", True))
            vis = vis if isinstance(vis, bool) else str(vis).lower() in ("1", "true", "yes", "visible")
            x = float(p["x"]) if p.get("x") is not None else float("nan")
            y = float(p["y"]) if p.get("y") is not None else float("nan")
        except (TypeError, ValueError):
            return None
        out.append({"frame": frame, "x": x, "y": y, "visible": bool(vis)})
    return sorted(out, key=lambda p: p["frame"])


def _json_candidates(body: str) -> list[str]:
    cands = [m.group(1) for m in re.finditer(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)]
    start = body.find("[")
    end = body.rfind("]")
    if start != -1 and end > start:
        cands.append(body[start: end + 1])
    start = body.find("{")
    end = body.rfind("}")
    if start != -1 and end > start:
        cands.append(body[start: end + 1])
    return cands


def extract_track(text: str) -> Extraction:
    """Point track: list of {"frame": int, "x": float, "y": float, "visible": bool}, by frame."""
    body = strip_reasoning(text)
    tags = answer_tags(body)
    for rule, src in [("answer_tag", t) for t in reversed(tags)] + [("json", body)]:
        for cand in _json_candidates(src):
            try:
                track = _track_from_json(json.loads(cand))
            except (json.JSONDecodeError, ValueError):
                continue
            if track:
                return Extraction(track, "json" if rule == "json" else rule, cand[:200])
    points: dict[int, dict] = {}
    for m in _TRACK_LINE_RE.finditer(body):
        vis_word = (m.group("vis") or "").lower()
        has_xy = m.group("x") is not None
        if not has_xy and not vis_word:
            continue
        visible = (vis_word == "visible") or (has_xy and vis_word == "")
        x = _to_float(m.group("x")) if has_xy else float("nan")
        y = _to_float(m.group("y")) if has_xy else float("nan")
        points[int(m.group("f"))] = {"frame": int(m.group("f")), "x": x, "y": y, "visible": visible}
    if points:
        return Extraction([points[k] for k in sorted(points)], "frame_lines", "")
    return Extraction(None, "unparsed", "")


def _track_arrays(track: list[dict], frames: list[int]) -> tuple[np.ndarray, np.ndarray]:
    by_frame = {int(p["frame"]): p for p in track}
    xy = np.full((len(frames), 2), np.nan)
    occ = np.ones(len(frames), dtype=bool)  # a frame the model left out counts as "occluded"
    for i, f in enumerate(frames):
        p = by_frame.get(f)
        if p is None:
            continue
        xy[i] = [float(p["x"]) if p.get("x") is not None else np.nan,
                 float(p["y"]) if p.get("y") is not None else np.nan]
        occ[i] = not bool(p.get("visible", True))
    return xy, occ


def _named_by_position(point: dict, frame_indices: list) -> dict:
    """A track point with `frame` renamed from the scene's frame index to the 1-based position of
    its image in the sample's media (the name the question uses)."""
    out = dict(point)
    if "media" in point:
        out["frame"] = int(point["media"]) + 1
    elif point.get("frame") in frame_indices:
        out["frame"] = frame_indices.index(point["frame"]) + 1
    else:
        raise FieldError("meta.track", f"frame {point.get('frame')!r} is not among frame_indices")
    out["scene_frame"] = point.get("frame")
    return out


@register_format("track", order=3)
class Track(AnswerFormat):
    accuracy_style = False
    has_coords = True

    def bench_fields(self, record, meta):
        # Questions and answers name frames by their position among the images shown ("frame 3" =
        # the third image); score against the same names.
        frame_indices = record.get("frame_indices") or []
        meta["track"] = [_named_by_position(p, frame_indices) for p in meta["track"]]
        meta["query"] = _named_by_position(meta["query"], frame_indices)
        # Coordinates are normalised to [0, 1] ("unit", what the prompt asks for): the unit square
        # is the frame TAP-Vid's 256-px thresholds are scaled from.
        meta["coords"] = "unit"
        meta["image_size"] = [1.0, 1.0]
        return record["answer"], None

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_track(text)

    def score(self, item, ex):
        gt_track = item.meta["track"]
        frames = [int(p["frame"]) for p in gt_track]
        gt_xy, gt_occ = _track_arrays(gt_track, frames)
        pred_xy, pred_occ = _track_arrays(ex.value, frames)
        qf = (item.meta.get("query") or {}).get("frame")
        ev = np.array([f != qf for f in frames])
        size = item.meta.get("image_size") or [256, 256]
        res = M.tapvid_metrics(pred_xy[None], pred_occ[None], gt_xy[None], gt_occ[None],
                               image_size=(float(size[0]), float(size[1])), evaluation_mask=ev[None])
        extra = {k: float(v[0]) for k, v in res.items()}
        aj = extra["average_jaccard"]
        score = aj if math.isfinite(aj) else extra["occlusion_accuracy"]
        return None, float(score) if math.isfinite(score) else 0.0, extra

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        width, height = image_size(item)
        gt = item.meta.get("track") or json_list(item.answer)
        frames = [int(p["frame"]) for p in gt] if isinstance(gt, list) else list(range(1, 9))
        track = [
            {"frame": f, "x": round(float(rng.uniform(0, width)), 4), "y": round(float(rng.uniform(0, height)), 4),
             "visible": bool(rng.random() < 0.5)}
            for f in frames
        ]
        return json.dumps(track)

    def oracle_reply(self, item: Item) -> str:
        # score against the loader's reference track (frames/coordinates as the question names them)
        track = item.meta.get("track")
        if isinstance(track, list) and track:
            return json.dumps([{k: p[k] for k in ("frame", "x", "y", "visible")} for p in track])
        return item.answer

    def obedient_value(self, item: Item, form: Any, frame_size) -> str:
        out = []
        for p in item.meta["track"]:  # frames named as the question names them
            xy = in_coords(np.array([float(p["x"]), float(p["y"])]), item.meta["coords"], form.coords, frame_size)
            visible = bool(p["visible"])
            out.append({"frame": int(p["frame"]), "x": float(num(xy[0])) if visible else None,
                        "y": float(num(xy[1])) if visible else None, "visible": visible})
        return json.dumps(out)
