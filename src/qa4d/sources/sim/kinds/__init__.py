"""Scene kinds that stage one kind of motion with its ground truth (docs/simulator.md).

Each builder draws the objects, their (kinematic, closed-form) motions and the camera of one
scene kind and returns a record that `SceneSpec.summary` writes to scene.json as
`extra.sim[kind]`, so question families read exactly what happened:

- camera_motion: objects translating along the axis of a trucking, dollying or panning camera,
  faster than it, slower, against it, or not at all (the camera's motion alone moves them on
  screen); object, camera and apparent (object minus camera) amounts are recorded.
- spinning: 2-4 objects spinning in place about world up at distinct rates (each 1.6x the next),
  either way, next to objects that do not spin.
- repeated: one object going back and forth, or hopping, a known number of times, or 2-4
  objects starting one after another; counts and times recorded. Turning points fall on frames.
- accelerating: objects under constant acceleration (speeding up or slowing down) next to one
  at constant speed.
- ego: the camera rides on a driving agent (fixed mount, looking forward); the other scene
  kinds and "mixed" scenes have a camera standing in the world.
- large: one big static box (wall, container, long crate) that a close camera sweeping by pan,
  tilt, truck or pedestal never sees whole in one frame (MultiSPA's object size), exact sizes
  recorded; or a dolly in front of it; 1-2 small objects translate in front of it.

Every configuration that becomes a label (including the camera slot of world cameras) is dealt
from a deck stratified across the scenes of the kind (`deal._stratum` over `deal.kind_ordinal`);
everything else comes from `deal.scene_rng(seed, index)`. One module per kind; `stage` holds
what they share.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from qa4d.sources.sim.captions import assign_captions
from qa4d.sources.sim.deal import scene_name
from qa4d.sources.sim.kinds.accelerating import _accelerating
from qa4d.sources.sim.kinds.camera_motion import CAMERA_MOTION_SLOTS, RELATIONS, _camera_motion
from qa4d.sources.sim.kinds.ego import EGO_DECK, _ego
from qa4d.sources.sim.kinds.large import LARGE_SLOTS, _large
from qa4d.sources.sim.kinds.repeated import REPEAT_DECK, _repeated
from qa4d.sources.sim.kinds.spinning import SPIN_DECK, SPIN_RATIO, _spinning
from qa4d.sources.sim.kinds.stage import _Stage
from qa4d.sources.sim.layout import _sample_props
from qa4d.sources.sim.spec import CameraSpec, SceneSpec

__all__ = ["BUILDERS", "CAMERA_MOTION_SLOTS", "EGO_DECK", "LARGE_SLOTS", "RELATIONS", "REPEAT_DECK", "SPIN_DECK", "SPIN_RATIO",
           "sample_kind_scene"]

BUILDERS: dict[str, Callable[..., tuple[CameraSpec, float, dict[str, Any]]]] = {
    "camera_motion": _camera_motion,
    "spinning": _spinning,
    "repeated": _repeated,
    "accelerating": _accelerating,
    "ego": _ego,
    "large": _large,
}


def sample_kind_scene(
    kind: str, seed: int, index: int, ordinal: int, num_frames: int, width: int, height: int, fps: float,
    num_objects: tuple[int, int], tracks_per_object: int, background_tracks: int, cat: dict[str, Any],
) -> SceneSpec:
    """A scene of `kind` (anything in SCENE_KINDS but "mixed"), the `ordinal`-th of its kind in
    the run (`scenario.kind_ordinal`). Same arguments, same spec."""
    st = _Stage(seed, index, ordinal, num_frames, fps, cat, width, height)
    camera, azim, record = BUILDERS[kind](st, num_objects)
    rng = st.rng
    assign_captions(st.objects, rng)
    props = _sample_props(rng, cat, azim)
    ground_texture = str(rng.choice(cat.get("ground_textures", ["default"])))
    gc = cat.get("ground_colours", [[1, 1, 1]])
    g = gc[int(rng.integers(len(gc)))]
    light = rng.normal(size=3)
    light[2] = abs(light[2]) + 1.5
    return SceneSpec(
        scene_id=scene_name(seed, index), seed=int(seed), index=int(index), num_frames=int(num_frames),
        fps=float(fps), width=int(width), height=int(height), objects=st.objects, props=props, camera=camera,
        ground_texture=ground_texture, ground_rgba=(float(g[0]), float(g[1]), float(g[2]), 1.0),
        light_direction=tuple(float(v) for v in light / np.linalg.norm(light)),
        tracks_per_object=int(tracks_per_object), background_tracks=int(background_tracks),
        kind=kind, record=record,
    )
