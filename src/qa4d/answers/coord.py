"""coord: an image point [x, y]; MultiSPA: correct within 5% of the image width.

The item's point is in `meta["coords"]` (per_mille: 0-1000 of the width and height, origin
top-left; unit: [0, 1]; pixels), `meta["coord_scale"]` the value of the full width in it. Read: a
bracketed pair in a statement of the answer, else the only pair in the reply. Scored 1/0: correct
when the distance, in pixels of `meta["image_size"]` ([height, width]), is at most 5% of the image
width; chance 0. Random: uniform over the image. Prior: the task's most frequent answer text.
Audit: the component-wise train median and mean under the same metric.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from qa4d.answers.base import AnswerFormat, Extraction, Item
from qa4d.answers.quantities import extract_tuple
from qa4d.answers.registry import register_format
from qa4d.answers.values import image_size, in_coords, num, short
from qa4d.bench import metrics as M


def to_pixels(v: list[float], item: Item) -> tuple[np.ndarray, float]:
    """(2,) point in pixels of meta["image_size"] ([height, width]; 1000 x 1000 without it) and
    the image width."""
    h, w = item.meta.get("image_size") or [1000.0, 1000.0]
    scale = item.meta.get("coord_scale")
    xy = np.asarray(v, dtype=np.float64)
    if scale:
        xy = xy / float(scale) * np.array([float(w), float(h)])
    return xy, float(w)


@register_format("coord", order=7)
class Coord(AnswerFormat):
    numeric = True
    has_coords = True
    audit_baseline = "numeric"

    def bench_fields(self, record, meta):
        # meta.value in meta.space, whose full width/height is meta.scale
        meta["coord_scale"] = float(meta["scale"])
        meta["coords"] = meta["space"]
        meta.setdefault("image_size", [float(meta["scale"])] * 2)
        return json.dumps([float(v) for v in meta["value"]]), None

    def extract(self, text: str, item: Item) -> Extraction:
        return extract_tuple(text, 2, None)

    def score(self, item, ex):
        gt_px, width = to_pixels(json.loads(item.answer), item)
        pred_px, _ = to_pixels(ex.value, item)
        ok = bool(M.pixel_within(pred_px[None], gt_px[None], np.array([width]))[0])
        return ok, float(ok), {"pixel_error": float(np.linalg.norm(pred_px - gt_px))}

    def score_values(self, pred, gt, width):
        return M.pixel_within(pred, gt, width).astype(np.float64)

    def random_reply(self, item: Item, rng: np.random.Generator) -> str:
        width, height = image_size(item)
        return f"Answer: [{short(float(rng.uniform(0, width)))}, {short(float(rng.uniform(0, height)))}]"

    def obedient_value(self, item: Item, form: Any, frame_size) -> str:
        xy = in_coords(np.asarray(json.loads(item.answer), dtype=np.float64), item.meta["coords"], form.coords, frame_size)
        return "[" + ", ".join(num(x) for x in xy) + "]"
