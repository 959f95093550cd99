"""Random scene specifications: `sample_scene` draws scene `index` of a run, and
`make_object` / `make_spec` build hand-made scenes (tests, demos). Pure data and NumPy, no PyBullet.

A scene is drawn from `numpy.random.default_rng([seed, index])` (`deal.scene_rng`), with the
choices that become question labels stratified across the scenes of a run (`deal._stratum`), so
scene k depends on (seed, k) only and labels come out clear of the QA engine's dead bands and
evenly (docs/simulator.md). The pieces, one module each: `spec` (the dataclasses), `motion` and
`camera` (closed-form object motion and camera paths), `camera_paths` (drawing trajectories),
`programs` (drawing object motions), `layout` (placement), `deal` (randomness, kinds), `mixed`
(the mixed kind) and `kinds/` (the other scene kinds).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.sources.sim.deal import KIND_DECK, kind_ordinal, scene_kind
from qa4d.sources.sim.kinds import sample_kind_scene
from qa4d.sources.sim.mixed import sample_mixed_scene
from qa4d.sources.sim.spec import CameraSpec, Motion, ObjectSpec, SceneSpec, load_assets


def sample_scene(
    seed: int,
    index: int,
    num_frames: int,
    width: int,
    height: int,
    fps: float = 8.0,
    num_objects: tuple[int, int] = (2, 8),
    tracks_per_object: int = 256,
    background_tracks: int = 1024,
    assets: dict[str, Any] | None = None,
    kinds: tuple[str, ...] = KIND_DECK,
) -> SceneSpec:
    """Draw a random scene. Same arguments, same spec.

    The scene's kind is dealt from the deck `kinds` (`scene_kind`); a "mixed" scene is the same
    whatever the deck. Discrete choices that become question labels (camera trajectory slot,
    translation directions, agent motions, kind-specific configurations) are stratified across
    scenes with `_stratum`; everything else comes from `scene_rng(seed, index)`.
    """
    cat = assets or load_assets()
    kind = scene_kind(seed, index, tuple(kinds))
    if kind != "mixed":
        return sample_kind_scene(kind, seed, index, kind_ordinal(seed, index, tuple(kinds)), num_frames, width,
                                 height, fps, num_objects, tracks_per_object, background_tracks, cat)
    return sample_mixed_scene(seed, index, num_frames, width, height, fps, num_objects, tracks_per_object,
                              background_tracks, cat)


def make_object(
    id: int,
    asset: str,
    position: tuple[float, float, float] = (0.0, 0.0, 0.0),
    yaw_deg: float = 0.0,
    motion: Motion | None = None,
    scale: float | None = None,
    colour: str = "red",
    variant: int = 0,
    assets: dict[str, Any] | None = None,
) -> ObjectSpec:
    """A hand-made object for hand-made scenes (tests, demos): asset from the catalog, scale
    defaults to the middle of its range, caption from colour, size and category."""
    from qa4d.sources.sim.captions import caption, load_vocabulary, size_word

    cat = assets or load_assets()
    if asset not in cat["objects"]:
        raise KeyError(f"unknown asset {asset!r}; known: {sorted(cat['objects'])}")
    a = cat["objects"][asset]
    s = float(scale if scale is not None else np.mean(a["scale"]))
    ext = tuple(float(v) * s for v in a["unit_extent"])
    vocab = load_vocabulary()
    r, g, b = (float(v) for v in vocab["colours"][colour])
    size = size_word(ext, vocab)
    urdf = a.get("urdf", "")
    if "{index" in urdf:
        urdf = urdf.format(index=variant)
    return ObjectSpec(
        id=id,
        asset=asset,
        category=a["category"],
        urdf=urdf,
        primitive=a.get("primitive", ""),
        scale=s,
        colour=colour,
        rgba=(r, g, b, 1.0),
        keep_texture=bool(a.get("keep_texture", False)),
        upright_rpy_deg=tuple(float(v) for v in a["upright_rpy_deg"]),
        approx_extent=ext,
        position=tuple(float(v) for v in position),
        yaw_deg=float(yaw_deg),
        motion=motion or Motion(),
        is_agent=bool(a.get("agent", False)),
        forward_axis=tuple(float(v) for v in a.get("forward_axis", (1, 0, 0))),
        size_word=size,
        caption=caption(size, colour, a["category"]),
    )


def make_spec(
    objects: list[ObjectSpec],
    camera: CameraSpec,
    num_frames: int = 8,
    size: int = 64,
    fps: float = 8.0,
    scene_id: str = "custom",
    tracks_per_object: int = 128,
    background_tracks: int = 256,
) -> SceneSpec:
    """A hand-made scene on a plain ground without props."""
    return SceneSpec(
        scene_id=scene_id,
        seed=0,
        index=0,
        num_frames=num_frames,
        fps=fps,
        width=size,
        height=size,
        objects=objects,
        props=[],
        camera=camera,
        ground_texture="default",
        ground_rgba=(1.0, 1.0, 1.0, 1.0),
        light_direction=(0.3, 0.3, 0.9),
        tracks_per_object=tracks_per_object,
        background_tracks=background_tracks,
    )
