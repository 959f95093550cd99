"""Sampled scenarios give clear, evenly spread labels under the QA engine's own rules.

The closed-form motions of `sample_scene` (no rendering) are measured with the engine's
`measure` and labelled with its `labels` and default thresholds: every scripted motion and camera
trajectory must land clearly outside the dead bands, and the labels must come out evenly.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pytest

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa import labels
from qa4d.geometry.poses import rotation_about_axis
from qa4d.sources.sim.camera import CAMERA_MOVES, camera_pose, scene_camera_pose
from qa4d.sources.sim.camera_paths import CAMERA_SLOTS, _jitter
from qa4d.sources.sim.motion import scripted_pose, upright_rotation
from qa4d.sources.sim.programs import AGENT_MOTIONS, TRANSLATIONS, TRANSLATION_DECK
from qa4d.sources.sim.scenario import sample_scene
from qa4d.sources.sim.spec import CameraSpec

T = 32
TH = labels.load_thresholds("sim")
# The engine's translation bands scale with the median depth it sees; around the camera-target
# distance R, so every label must hold over a generous range of it.
SCALES = (0.8, 1.4)


@dataclass
class _Obj:
    forward_axis: tuple[float, float, float]


class _ClosedForm:
    """Just enough of a `qa4d.scene.Scene` for `measure`: poses from the closed-form motions."""

    def __init__(self, spec):
        s = np.linspace(0.0, 1.0, spec.num_frames)
        self.num_frames = spec.num_frames
        self.world_up = np.array([0.0, 0.0, 1.0])
        self.cam_to_world = np.stack([scene_camera_pose(spec, float(x)) for x in s])
        k = len(spec.objects)
        self.object_to_world = np.tile(np.eye(4), (k, spec.num_frames, 1, 1))
        for i, o in enumerate(spec.objects):
            centre = np.array([o.position[0], o.position[1], o.position[2] + 0.5 * o.approx_extent[2]])
            for t, x in enumerate(s):
                off, yaw = scripted_pose(o, float(x))
                self.object_to_world[i, t, :3, :3] = rotation_about_axis((0, 0, 1), yaw) @ upright_rotation(o)
                self.object_to_world[i, t, :3, 3] = centre + off
        self.object_extent = np.array([o.approx_extent for o in spec.objects])
        self.objects = [_Obj(o.forward_axis) for o in spec.objects]

    def has(self, name: str) -> bool:
        return name in ("object_to_world", "object_extent")


@pytest.fixture(scope="module")
def specs():
    """Mixed scenes only: the camera slots and decks below are those of the mixed sampler."""
    return [sample_scene(5, i, T, 64, 64, kinds=("mixed",)) for i in range(3 * len(CAMERA_SLOTS))]


def _camera_label(spec, scale: float):
    m = measure.camera_motion(_ClosedForm(spec).cam_to_world, range(T), scale=scale)
    return labels.camera_movement_label(m, TH)


def _expected_camera(slot) -> list[str]:
    name, sign, _ = slot
    pos = sign > 0
    return {
        "static": ["static"],
        "pan": ["pan_left" if pos else "pan_right"],
        "tilt": ["tilt_up" if pos else "tilt_down"],
        "dolly": ["forward" if pos else "backward"],
        "truck": ["right" if pos else "left"],
        "pedestal": ["up" if pos else "down"],
        "orbit": ["right", "pan_left"] if pos else ["left", "pan_right"],
    }[name]


def test_camera_labels_are_clear_and_every_slot_comes_out_equally_often(specs):
    got = Counter()
    for spec in specs:
        r = float(np.linalg.norm(np.subtract(spec.camera.eye, spec.camera.target)))
        found = [_camera_label(spec, k * r) for k in SCALES]
        assert found[0] == found[1] and found[0] is not None, (spec.scene_id, spec.camera.label, found)
        got["+".join(found[0])] += 1
    # stratified: 3 blocks of len(CAMERA_SLOTS) scenes, each slot exactly once per block
    assert got == Counter({"+".join(_expected_camera(s)): 3 for s in CAMERA_SLOTS})
    assert {m.kind for s in specs for m in s.camera.moves} == set(CAMERA_MOVES)
    assert any("+" in s.camera.label for s in specs)


def test_handheld_jitter_is_visible_but_below_the_static_thresholds():
    rng = np.random.default_rng(1)
    eye, target = np.array([2.4, -1.0, 1.3]), np.array([0.0, 0.0, 0.2])
    r = float(np.linalg.norm(eye - target))
    for _ in range(40):
        move = _jitter(rng, eye, target)
        cam = CameraSpec(eye=tuple(eye), target=tuple(target), fov_y_deg=55.0, moves=[move])
        c2w = np.stack([camera_pose(cam, float(x)) for x in np.linspace(0, 1, T)])
        m = measure.camera_motion(c2w, range(T), scale=0.8 * r)
        assert labels.camera_movement_label(m, TH) == ["static"], m
        low_t = TH.camera_translation_rel[0] * 0.8 * r
        assert m["distance"] < 0.6 * 2 * low_t and m["rotation_path"] < 0.6 * 2 * TH.camera_rotation_deg[0]
        assert np.abs(c2w[:, :3, 3] - c2w[0, :3, 3]).max() > 0.004  # it does wobble


def _direction_key(label: str) -> list[str]:
    return sorted(label.split("+"), key=labels.DIRECTION_LABELS.index)


def test_scripted_directions_rotations_and_agents_get_the_engine_labels_evenly(specs):
    more = specs + [sample_scene(6, i, T, 64, 64) for i in range(60)]  # every scene kind
    directions, rotations, agents = Counter(), Counter(), Counter()
    for spec in more:
        scene = _ClosedForm(spec)
        for i, o in enumerate(spec.objects):
            if not o.motion.kinematic:
                continue
            d = labels.direction_label(measure.object_direction(scene, i, range(T)), TH)
            rot = measure.object_rotation(scene, i, range(T))
            r = labels.rotation_label(rot["yaw"], TH, tilt=rot["tilt"])
            assert r is not None, (spec.scene_id, o.id, o.motion)
            if o.motion.kind in ("translate", "accelerate"):  # straight lines, whatever the speed profile
                assert d == _direction_key(o.motion.label), (spec.scene_id, o.id, o.motion.label, d)
            elif o.motion.kind in ("oscillate", "hop"):  # back where it started but not still: no label
                assert d is None, (spec.scene_id, o.id, o.motion, d)
            elif not o.is_agent:
                assert d == ["static"], (spec.scene_id, o.id, o.motion)
            if o.is_agent and spec.kind == "mixed":
                a = labels.agent_motion_label(measure.agent_motion(scene, i, range(T)), TH)
                assert a is not None, (spec.scene_id, o.id, o.motion)
                agents[(a["move"], a["turn"])] += 1
            if spec.kind == "mixed":  # the shares below are those of the mixed sampler
                rotations[r] += 1
                if o.motion.kind == "translate":
                    directions[o.motion.label] += 1
    # directions follow the deck: single directions twice, diagonals once
    per_entry = sum(directions.values()) / len(TRANSLATION_DECK)
    for i, (name, _, _) in enumerate(TRANSLATIONS):
        share = directions[name] / (TRANSLATION_DECK.count(i) * per_entry)
        assert 0.5 < share < 1.6, (name, directions)
    # spinning translations make up for the "none" of static and physics objects; both senses even
    assert 0.8 < rotations["clockwise"] / rotations["counterclockwise"] < 1.25, rotations
    assert rotations["none"] > 0.1 * sum(rotations.values())
    # all nine agent motions, each within a factor 2 of the mean
    assert set(agents) == set(AGENT_MOTIONS)
    mean = sum(agents.values()) / len(AGENT_MOTIONS)
    assert 0.5 * mean < min(agents.values()) and max(agents.values()) < 2 * mean, agents
    n_agents = [sum(o.is_agent for o in s.objects) for s in more if s.kind == "mixed"]
    assert np.mean([n > 0 for n in n_agents]) > 0.75 and max(n_agents) == 3


def _slot_of(camera) -> tuple[str, int, tuple]:
    """The CAMERA_SLOTS entry a world camera's trajectory was drawn from."""
    moves = [m for m in camera.moves if m.kind != "jitter"]
    if not moves or moves[0].kind == "static":
        return ("static", 0, ())
    name = "orbit" if moves[0].kind == "orbit" or [m.kind for m in moves] == ["truck", "pan"] else moves[0].kind
    return (name, 1 if moves[0].amount > 0 else -1, ())


def test_cameras_of_the_other_scene_kinds_get_clear_labels():
    """World cameras of spinning / repeated / accelerating / camera_motion scenes read as their
    trajectory; an agent-mounted camera is not held to a trajectory label."""
    counts = Counter()
    for kind in ("spinning", "repeated", "accelerating", "camera_motion"):
        for i in range(13 if kind != "camera_motion" else 6):
            spec = sample_scene(8, i, T, 64, 64, kinds=(kind,))
            r = float(np.linalg.norm(np.subtract(spec.camera.eye, spec.camera.target)))
            found = [_camera_label(spec, k * r) for k in SCALES]
            assert found[0] == found[1] == _expected_camera(_slot_of(spec.camera)), (spec.scene_id, spec.camera.label)
            counts[(kind, "+".join(found[0]))] += 1
    # world cameras of the exo kinds take every camera slot once per 13 scenes of the kind
    for kind in ("spinning", "repeated", "accelerating"):
        assert sorted(v for (k, _), v in counts.items() if k == kind) == [1] * 13
    assert {lab for (k, lab) in counts if k == "camera_motion"} == {"right", "left", "forward", "backward",
                                                                     "pan_left", "pan_right"}


def test_stratified_choices_depend_only_on_seed_and_index():
    a = [sample_scene(9, i, T, 64, 64).to_json() for i in (0, 14, 27)]
    b = [sample_scene(9, i, T, 64, 64).to_json() for i in (27, 0, 14)]
    assert a == [b[1], b[2], b[0]]
    # different seeds order the slots differently
    assert [sample_scene(9, i, T, 64, 64).camera.label for i in range(13)] != [
        sample_scene(10, i, T, 64, 64).camera.label for i in range(13)
    ]
