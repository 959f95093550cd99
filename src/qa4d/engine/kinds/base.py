"""Base of question tasks: the machinery shared by every kind and family.

A task turns one scene into *candidates* (phase 1: geometry, labels, object references; JSON
dicts written per scene) and a chosen candidate into a *record* (phase 2: wording from the
family's templates, answer format, option order). `recompute` re-derives the answer of a record
from the scene alone, which is what `qa4d audit` checks.

The kinds (one module each in qa4d/engine/kinds/) subclass `Task`:
- descriptive.DescriptiveTask: a canonical label (str, or a list of atoms) of a measurement;
- comparison.CompareTask: which of several items has the smallest / largest value;
- tracking.TrackTask: the 2D track of a query point in named target images;
- numeric.NumericTask: a number, vector or image coordinate with its unit (no options);
- correspondence.CorrespondenceTask: a point of image 1 -> its location in image 2;
- imageset.ImageSetTask: which set of images (frames) satisfies a predicate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from qa4d.engine import measure
from qa4d.engine.config import GenerateConfig
from qa4d.engine.references import object_reference
from qa4d.engine.sampling import media_indices, rng_for, segment_bounds

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class Skip(Exception):
    """A scene (or segment) a task cannot use; the message is the counted reason."""


# ------------------------------------------------------------------------------ context


@dataclass
class SceneContext:
    """One scene being turned into candidates, with caches shared by all tasks."""

    scene: Any
    config: GenerateConfig
    thresholds: Any
    skips: dict[str, dict[str, int]] = field(default_factory=dict)
    family: str = ""                 # the family whose tasks use this context (skips are keyed family/task)
    _cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def seed(self) -> int:
        return self.config.seed

    def rng(self, *parts: object) -> np.random.Generator:
        return rng_for(self.config.seed, self.scene.scene_id, *parts)

    def skip(self, task: str, reason: str, n: int = 1) -> None:
        """Count a skip reason for a task (its name; recorded as "family/task")."""
        if self.family and "/" not in task:
            task = f"{self.family}/{task}"
        d = self.skips.setdefault(task, {})
        d[reason] = d.get(reason, 0) + n

    def segments(self, task: str) -> list[tuple[int, int]]:
        return segment_bounds(
            self.scene.num_frames, self.config.segment_frames, self.config.segments_per_scene, self.rng(task, "segments")
        )

    def media(self, seg: tuple[int, int]) -> list[int]:
        return media_indices(seg[0], seg[1], self.config.media_frames)

    @staticmethod
    def dense(seg: tuple[int, int]) -> list[int]:
        return list(range(seg[0], seg[1]))

    def _cached(self, key: tuple, fn):
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]

    def visible_ids(self, seg: tuple[int, int]) -> list[int]:
        """Objects seen in at least `min_visible_fraction` of the segment's media frames."""
        media = self.media(seg)
        frac = float(getattr(self.thresholds, "min_visible_fraction", 0.8))

        def compute() -> list[int]:
            if not self.scene.has("object_to_world"):
                return []
            # non-rigid objects (converted data) have no pose: no object question can use them
            return [
                o.id for i, o in enumerate(self.scene.objects)
                if getattr(o, "rigid", True) and measure.visible_fraction(self.scene, i, media) >= frac
            ]

        return self._cached(("visible", seg), compute)

    def static_ids(self, seg: tuple[int, int]) -> list[int]:
        dense = self.dense(seg)
        return self._cached(
            ("static", seg),
            lambda: [
                oid for oid in self.visible_ids(seg)
                if measure.is_static(self.scene, self.scene.object_index(oid), dense, th=self.thresholds)
            ],
        )

    def moving_ids(self, seg: tuple[int, int]) -> list[int]:
        dense = self.dense(seg)
        return self._cached(
            ("moving", seg),
            lambda: [
                oid for oid in self.visible_ids(seg)
                if measure.is_moving(self.scene, self.scene.object_index(oid), dense, th=self.thresholds)
            ],
        )

    @property
    def min_mask_pixels(self) -> int:
        """Mask pixels an object needs in a frame to be pointed at there (threshold `min_mask_pixels`)."""
        return int(self.thresholds.min_mask_pixels)

    def seen_at(self, object_id: int, frame: int) -> bool:
        """The object shows at least `min_mask_pixels` mask pixels in `frame` (can be pointed at there)."""
        return self._cached(
            ("seen", object_id, frame),
            lambda: measure.object_seen(self.scene, self.scene.object_index(object_id), frame,
                                        min_pixels=self.min_mask_pixels),
        )


@dataclass
class RenderEnv:
    """What phase 2 needs to word a candidate."""

    scene_meta: Any                 # SceneMeta of the candidate's scene (captions)
    config: GenerateConfig
    pool: dict[str, int]            # label key -> count among the task's selected candidates (distractors), plus
                                    # the counts of the candidates' own "pool_tags" (strings a task chooses)


# ------------------------------------------------------------------------------ text helpers


def label_key(label: Any) -> str:
    """Canonical string of a label: 'increasing'; 'forward+left' for list labels;
    'move=forward,turn=left' for dict labels (agent motion)."""
    if isinstance(label, dict):
        return ",".join(f"{k}={label[k]}" for k in sorted(label))
    if isinstance(label, (list, tuple)):
        return "+".join(label)
    return str(label)


def key_label(key: str, list_label: bool) -> Any:
    """Inverse of `label_key`."""
    if "=" in key:
        return dict(part.split("=", 1) for part in key.split(","))
    return key.split("+") if list_label else key


def join_phrases(parts: Sequence[str]) -> str:
    parts = list(parts)
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _templates(task: "Task") -> Any:
    """The templates of a task, from its family's templates/ folder."""
    from qa4d.engine.registry import get_family
    from qa4d.engine.templates import load_templates

    return load_templates(task.name, family=get_family(task.family))


def _fill(template: str, **slots: Any) -> str:
    from qa4d.engine.templates import fill

    return fill(template, **slots)


def _pick(rng: np.random.Generator, items: Sequence[str], what: str) -> str:
    if not items:
        raise KeyError(f"no templates for {what}")
    return items[int(rng.integers(len(items)))]


# ------------------------------------------------------------------------------ task base


def refer_all(
    ctx: "SceneContext",
    targets: Sequence[tuple[int, Sequence[int] | None]],
    media: Sequence[int],
    rng: np.random.Generator,
    colours: list[str],
) -> list[Any] | None:
    """References for (object id, allowed media positions) pairs, in question order.

    `None` as the positions allows every image the object is seen in. Returns None when any object
    cannot be referred to (caption not unique and never visible where a prompt could go); circle
    colours already used are in `colours`, so several prompts in one image stay distinct.
    """
    refs = []
    for oid, allowed in targets:
        if allowed is None:
            allowed = [p for p, t in enumerate(media) if ctx.seen_at(oid, t)]
        ref = object_reference(ctx.scene, oid, media, list(allowed), ctx.config.ref_modes, rng, colours,
                               min_pixels=ctx.min_mask_pixels)
        if ref is None:
            return None
        refs.append(ref)
    return refs


class Task:
    """A question type. Subclasses set the class attributes and implement the hooks."""

    family = ""                             # set by each family
    name = ""
    category = ""
    kind = "descriptive"
    requires: tuple[str, ...] = ()          # scene arrays the task needs
    train_formats: tuple[str, ...] = ("mc", "yesno", "free")
    bench_formats: tuple[str, ...] = ("mc", "yesno")
    n_options = 4                           # multiple-choice options
    balance_mode = "equal"                  # options.balance: "equal", "cap" or "none"

    def options_count(self, config: GenerateConfig) -> int:
        """Options of a multiple choice: the task's own count unless the settings override it."""
        return int(config.mc_options.get(self.key, config.mc_options.get(self.name, self.n_options)))

    @property
    def key(self) -> str:
        """"family/task": the task's name across families (summaries, per-task settings)."""
        return f"{self.family}/{self.name}"

    # -- phase 1 -------------------------------------------------------------------------
    def check_scene(self, scene) -> str | None:
        missing = [a for a in self.requires if not scene.has(a)]
        if missing:
            return f"scene lacks {', '.join(missing)}"
        return None

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def formats(self, cand: dict[str, Any], split: str) -> tuple[str, ...]:
        allowed = self.train_formats if split == "train" else self.bench_formats
        return tuple(f for f in allowed if f in cand["formats"])

    # -- phase 2 -------------------------------------------------------------------------
    def render(self, cand: dict[str, Any], fmt: str, choice: Any, rng: np.random.Generator, env: RenderEnv) -> dict[str, Any]:
        """-> {"question", "options", "answer", "meta"} for answer format `fmt`.
        choice: the option position of the answer (mc) or True/False (yesno)."""
        raise NotImplementedError

    # -- audit ---------------------------------------------------------------------------
    def recompute(self, record: dict[str, Any], scene, thresholds) -> dict[str, Any]:
        """The answer of `record` derived again from the scene geometry."""
        raise NotImplementedError

    def check(self, record: dict[str, Any], scene, thresholds) -> list[str]:
        """Disagreements between a record and its recomputation (empty when it is right)."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------
    def new_candidate(self, ctx: SceneContext, seg: tuple[int, int], n: int, frames: Sequence[int] | None = None,
                      **fields: Any) -> dict[str, Any]:
        """A candidate shown the segment's uniform media frames, or `frames` (image k = scene frame
        frames[k]; image-set tasks)."""
        media = ctx.media(seg) if frames is None else [int(t) for t in frames]
        fps = float(ctx.scene.meta.fps)
        c = {
            # unique within the family; the record id is "family/uid" (generate._render)
            "uid": f"{ctx.scene.scene_id}/{self.name}/{seg[0]:05d}-{n:03d}",
            "task": self.name,
            "scene_id": ctx.scene.scene_id,
            "segment": [int(seg[0]), int(seg[1])],
            "frame_indices": [int(t) for t in media],
            "timestamps": [round(t / fps, 6) if fps > 0 else 0.0 for t in media],
        }
        c.update(fields)
        return c


def _jsonable(x: Any) -> Any:
    """Measurements -> JSON: floats (NaN -> None), lists, dicts."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return [_jsonable(v) for v in x.tolist()]
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        f = float(x)
        return None if not math.isfinite(f) else f
    return x
