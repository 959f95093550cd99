"""Object and point references in questions: by caption, by pixel coordinate in a named image,
or by a visual prompt (a coloured circle drawn on that image) -- 4DP-QA sec. 3.2.

A reference is chosen once, while candidates are made (phase 1, it needs the scene geometry), and
stored as a small JSON dict; its wording is produced later from reference_phrases.json:

    {"kind": "object", "object": 3, "mode": "prompt", "media": 2,
     "x": 0.412, "y": 0.620, "cx": 52.7, "cy": 79.4, "r": 11.0, "colour": "red"}

`media` is the 0-based position in the sample's media list; questions say "frame {media + 1}".
x, y are normalised to [0, 1] (3 decimals); cx, cy, r are pixels of the scene frame (drawing).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from qa4d.engine.draw import COLOUR_NAMES
from qa4d.engine.sampling import weighted_choice

PHRASES_PATH = Path(__file__).with_name("reference_phrases.json")
_ARTICLES = ("a ", "an ", "the ")


@lru_cache(maxsize=1)
def phrases() -> dict[str, Any]:
    return json.loads(PHRASES_PATH.read_text(encoding="utf-8"))


def bare_caption(caption: str) -> str:
    """'A red cube' -> 'red cube' (questions add their own article)."""
    c = caption.strip()
    low = c.lower()
    for a in _ARTICLES:
        if low.startswith(a):
            return c[len(a):].strip()
    return c


def caption_unique(scene, object_id: int) -> bool:
    """True when no other object of the scene has the same caption (so the caption identifies it)."""
    mine = bare_caption(scene.object(object_id).caption).lower()
    return bool(mine) and sum(bare_caption(o.caption).lower() == mine for o in scene.objects) == 1


def frame_phrase(media_pos: int, rng: np.random.Generator | None = None) -> str:
    options = phrases()["frame"]
    p = options[int(rng.integers(len(options)))] if rng is not None and len(options) > 1 else options[0]
    return p.format(n=media_pos + 1)


def next_colour(used: list[str]) -> str:
    for c in COLOUR_NAMES:
        if c not in used:
            used.append(c)
            return c
    raise ValueError("more visual prompts in one sample than colours")


def object_reference(
    scene,
    object_id: int,
    media_frames: Sequence[int],
    allowed_media: Sequence[int],
    mode_weights: dict[str, float],
    rng: np.random.Generator,
    colours_used: list[str],
    min_pixels: int = 20,
) -> dict[str, Any] | None:
    """Choose how to refer to an object. Returns None when no mode works.

    media_frames: scene frame index of each media position; allowed_media: positions the
    reference may point into (coord and prompt references need the object visible there with at
    least `min_pixels` mask pixels -- the threshold `min_mask_pixels` --, as judged by
    measure.object_pixel / object_circle). Caption references need a unique caption.
    """
    from qa4d.engine import measure

    idx = scene.object_index(object_id)
    feasible: dict[str, Any] = {}
    if caption_unique(scene, object_id):
        feasible["caption"] = None
    order = [int(m) for m in rng.permutation(np.asarray(allowed_media, dtype=np.int64))] if len(allowed_media) else []
    for pos in order:
        px = measure.object_pixel(scene, idx, int(media_frames[pos]), min_pixels=min_pixels)
        if px is not None and "coord" not in feasible:
            feasible["coord"] = (pos, px)
        circ = measure.object_circle(scene, idx, int(media_frames[pos]), min_pixels=min_pixels)
        if circ is not None and "prompt" not in feasible:
            feasible["prompt"] = (pos, circ)
        if "coord" in feasible and "prompt" in feasible:
            break
    mode = weighted_choice(rng, mode_weights, allowed=list(feasible))
    if mode is None:
        return None
    ref: dict[str, Any] = {"kind": "object", "object": int(object_id), "mode": mode}
    w, h = scene.meta.width, scene.meta.height
    if mode == "coord":
        pos, (x, y) = feasible["coord"]
        ref.update(media=int(pos), x=round(float(x) / w, 3), y=round(float(y) / h, 3), px=round(float(x), 2), py=round(float(y), 2))
    elif mode == "prompt":
        pos, (cx, cy, r) = feasible["prompt"]
        ref.update(
            media=int(pos), x=round(float(cx) / w, 3), y=round(float(cy) / h, 3),
            cx=round(float(cx), 2), cy=round(float(cy), 2), r=round(float(r), 2), colour=next_colour(colours_used),
        )
    return ref


def point_reference(
    uv: tuple[float, float], media_pos: int, mode: str, width: int, height: int, colours_used: list[str]
) -> dict[str, Any]:
    """Reference to a query point (tracking): its coordinates, or a small circle drawn around it."""
    x, y = float(uv[0]), float(uv[1])
    ref: dict[str, Any] = {
        "kind": "point", "mode": mode, "media": int(media_pos),
        "x": round(x / width, 3), "y": round(y / height, 3), "px": round(x, 2), "py": round(y, 2),
    }
    if mode == "prompt":
        ref.update(cx=round(x, 2), cy=round(y, 2), r=round(max(4.0, min(width, height) / 24), 2), colour=next_colour(colours_used))
    return ref


def _coords(ref: dict[str, Any], coord_style: str) -> tuple[str, str]:
    if coord_style == "pixels":
        return str(int(round(ref["px"] if "px" in ref else ref["cx"]))), str(int(round(ref["py"] if "py" in ref else ref["cy"])))
    return f"{ref['x']:.3f}", f"{ref['y']:.3f}"


def phrase(
    ref: dict[str, Any], scene_meta, rng: np.random.Generator, coord_style: str = "normalised", name_frame: bool = True
) -> str:
    """Wording of a reference. scene_meta: qa4d.scene.format.SceneMeta (captions).
    name_frame=False leaves the image out of coordinate / prompt references, for questions that
    name it themselves ("{obj} in {frame}")."""
    if ref.get("mode") == "mark":  # Set-of-Marks (family r4d): the token of the numbered mark
        return f"<obj_{ref['label']}>"
    table = phrases()[ref["kind"]]
    if not name_frame and ref["kind"] == "object" and ref["mode"] != "caption":
        table = phrases()["object_at_frame"]
    options = table[ref["mode"]]
    template = options[int(rng.integers(len(options)))]
    slots: dict[str, str] = {}
    if ref["mode"] == "caption":
        cap = next(o.caption for o in scene_meta.objects if o.id == ref["object"])
        slots["caption"] = bare_caption(cap)
    else:
        slots["frame"] = frame_phrase(ref["media"])
        slots["x"], slots["y"] = _coords(ref, coord_style)
        if ref["mode"] == "prompt":
            slots["colour"] = ref["colour"]
    return template.format(**slots)


def prompts_by_media(refs: Sequence[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Visual prompts (circles, and Set-of-Marks marks: mode "mark") to draw, grouped by media
    position (sorted)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in refs:
        if r.get("mode") in ("prompt", "mark"):
            out.setdefault(int(r["media"]), []).append(r)
    return dict(sorted(out.items()))
