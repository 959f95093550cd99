"""Helpers shared by the MultiSPA tasks: the scene's static point cloud, view overlap and
overlap-balanced image pairs ([MS] sec. 3.2.1, Eqs. 3-4, App. D), and a task kind for one-word
direction answers (scored by exact match)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from qa4d.engine import measure
from qa4d.engine.kinds.base import SceneContext, Task, _fill, _jsonable, _pick, _templates
from qa4d.geometry.camera import unproject_to_world
from qa4d.geometry.pairs import sample_balanced_pairs
from qa4d.geometry.visibility import pairwise_overlap, visible_points

REQUIRES = ("depth", "cam_to_world", "intrinsics")
_CACHE: dict[tuple, Any] = {}          # per scene directory: static ids, point cloud, overlaps


def _scene_key(scene: Any, what: str, th: Any) -> tuple:
    return (str(scene.root), scene.scene_id, what, repr(th))


def _cached(scene: Any, what: str, th: Any, fn):
    key = _scene_key(scene, what, th)
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = fn()
    return _CACHE[key]


def static_owner_ids(scene: Any, th: Any) -> set[int]:
    """Mask ids whose pixels are static over the whole scene: 0 (the background) and every rigid
    object that `measure.is_static` calls static over all frames (scenes without object poses:
    only the background)."""
    def compute() -> set[int]:
        ids = {0}
        if scene.has("object_to_world") and scene.has("instance_mask"):
            frames = list(range(scene.num_frames))
            for i, o in enumerate(scene.objects):
                if getattr(o, "rigid", True) and measure.is_static(scene, i, frames, th=th):
                    ids.add(int(o.id))
        return ids
    return _cached(scene, "static_ids", th, compute)


def static_pixel_mask(scene: Any, t: int, th: Any) -> np.ndarray:
    """(H, W) bool: pixels of frame t with valid depth on a static surface."""
    d = np.asarray(scene.depth[t], dtype=np.float64)
    ok = np.isfinite(d) & (d > 0)
    if scene.has("instance_mask"):
        ok &= np.isin(scene.instance_mask[t], sorted(static_owner_ids(scene, th)))
    return ok


def static_cloud(scene: Any, th: Any) -> np.ndarray:
    """(N, 3) world points on static surfaces: `cloud_points_per_frame` random static pixels of
    `cloud_frames` evenly spread frames, back-projected through their depth maps (pixel centres).
    Drawn with a generator seeded by the scene id only, so the audit rebuilds the same cloud."""
    def compute() -> np.ndarray:
        rng = np.random.default_rng(abs(hash_id(scene.scene_id)))
        T = scene.num_frames
        frames = np.unique(np.round(np.linspace(0, T - 1, min(T, int(th.cloud_frames)))).astype(int))
        out = []
        for t in frames:
            ok = static_pixel_mask(scene, int(t), th)
            rows, cols = np.nonzero(ok)
            if not len(rows):
                continue
            pick = rng.choice(len(rows), size=min(len(rows), int(th.cloud_points_per_frame)), replace=False)
            uv = np.stack([cols[pick] + 0.5, rows[pick] + 0.5], axis=1)
            d = np.asarray(scene.depth[t], dtype=np.float64)[rows[pick], cols[pick]]
            out.append(unproject_to_world(uv, d, scene.intrinsics[t], scene.cam_to_world[t]))
        return np.concatenate(out) if out else np.zeros((0, 3))
    return _cached(scene, "cloud", th, compute)


def hash_id(text: str) -> int:
    """A stable 63-bit integer of a string (Python's hash() is salted per process)."""
    import hashlib

    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def overlap_matrix(scene: Any, th: Any) -> np.ndarray:
    """(T, T) view overlap in percent ([MS] Eq. 4) of the static point cloud's visible sets."""
    def compute() -> np.ndarray:
        pts = static_cloud(scene, th)
        if not len(pts):
            return np.zeros((scene.num_frames, scene.num_frames))
        vis = visible_points(pts, scene.intrinsics, scene.cam_to_world, scene.depth, scene.meta.width,
                             scene.meta.height, tolerance=float(th.visibility_tolerance_m))
        return 100.0 * pairwise_overlap(vis)
    return _cached(scene, "overlap", th, compute)


def pair_overlap(scene: Any, pair: list[int], th: Any) -> float:
    return float(overlap_matrix(scene, th)[pair[0], pair[1]])


def overlap_ok(scene: Any, pair: list[int], th: Any) -> bool:
    o = pair_overlap(scene, pair, th)
    return float(th.overlap_min) <= o <= float(th.overlap_max)


def balanced_pairs(ctx: SceneContext, task: str) -> list[list[int]]:
    """Image pairs [image 1, image 2] of the scene for `task`: every frame pair with overlap in
    [overlap_min, overlap_max] %, `pairs_per_task` drawn with [MS] Listing 1 (1-point bins), each
    swapped with probability 1/2 ([MS-code]); the generator is keyed by the task ([MS]: a seed per
    task)."""
    th = ctx.thresholds
    ov = overlap_matrix(ctx.scene, th)
    i, j = np.triu_indices(len(ov), k=1)
    rng = ctx.rng(task, "pairs")
    x = ov[i, j]
    keep = (x >= float(th.overlap_min)) & (x <= float(th.overlap_max))
    i, j, x = i[keep], j[keep], x[keep]
    if not len(x):
        return []
    picked = sample_balanced_pairs(x, int(th.pairs_per_task), rng, overlap_min=float(th.overlap_min),
                                   overlap_max=float(th.overlap_max)).indices
    swap = rng.random(len(picked)) < 0.5
    return [[int(j[k]), int(i[k])] if s else [int(i[k]), int(j[k])] for k, s in zip(picked, swap)]


class SceneItemsMixin:
    """Numeric tasks whose items come from the whole scene (one segment, 0..T): each item names
    its own shown frames (`item["frames"]`, image k = scene frame frames[k])."""

    requires = REQUIRES

    def frames_for(self, ctx, seg, item, rng):
        return list(item["frames"])

    skip_no_frames = skip_no_value = "value too close to zero or not measurable"

    def candidates(self, ctx):
        return self.segment_candidates(ctx, (0, ctx.scene.num_frames), ctx.rng(self.name, 0))

    def render(self, cand, fmt, choice, rng, env):
        out = super().render(cand, fmt, choice, rng, env)
        out["meta"]["media_kind"] = "images"
        return out


class PairMixin(SceneItemsMixin):
    """Numeric tasks on an overlap-balanced image pair, shown as Image-1/Image-2."""

    def items(self, ctx, seg, rng):
        return [{"frames": p} for p in balanced_pairs(ctx, self.name)]

    def check(self, record, scene, thresholds):
        problems = super().check(record, scene, thresholds)
        if not overlap_ok(scene, record["frame_indices"], thresholds):
            problems.append(f"pair {record['frame_indices']} has overlap {pair_overlap(scene, record['frame_indices'], thresholds):.2f}% outside the kept range")
        return problems


def movement_of(scene: Any, pair: list[int]) -> dict[str, Any]:
    """The raw camera movement of a pair (metres, degrees), stored as the record's measurement."""
    from qa4d.geometry.camera_motion import camera_movement

    m = camera_movement(scene.cam_to_world[pair[0]], scene.cam_to_world[pair[1]], scene.world_up)
    return {"displacement_m": _jsonable(m.displacement_m), "yaw_deg": m.yaw_deg, "pitch_deg": m.pitch_deg}


class WordTask(Task):
    """A one-word answer ("left", "up", ...) on an image pair, scored by exact match ("free"); the
    answer states the word in backticks ("`left`"), the form the family's instruction asks for.

    Hooks: `word(scene, frames, thresholds)` -> the word, or "" when too close to call."""

    kind = "word"
    requires = REQUIRES
    vocabulary: tuple[str, ...] = ()
    train_formats = ("free",)
    bench_formats = ("free",)
    balance_mode = "equal"

    def word(self, scene: Any, frames: list[int], thresholds: Any) -> str:
        raise NotImplementedError

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        seg = (0, ctx.scene.num_frames)
        out = []
        for n, pair in enumerate(balanced_pairs(ctx, self.name)):
            w = self.word(ctx.scene, pair, ctx.thresholds)
            if not w:
                ctx.skip(self.name, "measurement too close to a label boundary")
                continue
            m = movement_of(ctx.scene, pair)
            out.append(self.new_candidate(ctx, seg, n, frames=pair, label=w, key=w, value=w,
                                          measurement=m, formats=["free"]))
        return out

    def render(self, cand, fmt, choice, rng, env):
        if fmt != "free":
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        t = _templates(self)
        question = _fill(_pick(rng, t.questions["free"], f"{self.name} free"),
                         options=" or ".join(f"'{w}'" for w in self.vocabulary))
        answer = _fill(_pick(rng, t.answers["free"], f"{self.name} free answer"), answer=cand["value"])
        meta = {"objects": [], "value": cand["value"], "label": cand["label"], "segment": cand["segment"],
                "measurement": cand["measurement"], "choices": list(self.vocabulary),
                "media_kind": "images"}
        return {"question": question, "options": None, "answer": answer, "meta": meta}

    def recompute(self, record, scene, thresholds):
        return {"label": self.word(scene, list(record["frame_indices"]), thresholds) or None}

    def check(self, record, scene, thresholds):
        got = self.recompute(record, scene, thresholds)["label"]
        meta = record["meta"]
        problems = []
        if got is None:
            return [f"label is now too close to call (recorded {meta.get('value')!r})"]
        if meta.get("value") != got or meta.get("label") != got:
            problems.append(f"meta.value is {meta.get('value')!r}, geometry gives {got!r}")
        if re.findall(r"`([^`]*)`", record["answer"]) != [got]:
            problems.append(f"answer {record['answer']!r} does not state {got!r} in backticks")
        if not overlap_ok(scene, record["frame_indices"], thresholds):
            problems.append(f"pair {record['frame_indices']} has overlap outside the kept range")
        return problems
