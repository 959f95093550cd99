"""Scenario sampling and closed-form motion of the simulator: pure data, no rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest

from qa4d.geometry.camera import invert_rigid, rigid_error
from qa4d.geometry.poses import rotation_angle, wrap_degrees, yaw_pitch
from qa4d.sources.sim.captions import assign_captions
from qa4d.sources.sim.camera import CAMERA_MOVES, camera_pose
from qa4d.sources.sim.motion import scripted_pose
from qa4d.sources.sim.programs import TRANSLATIONS
from qa4d.sources.sim.scenario import make_object, sample_scene
from qa4d.sources.sim.spec import CameraMove, CameraSpec, Motion


def _cam(*moves: CameraMove) -> CameraSpec:
    return CameraSpec(eye=(3.0, -1.0, 1.5), target=(0.0, 0.0, 0.2), fov_y_deg=55.0, moves=list(moves))


def test_same_seed_same_spec_and_different_index_differs():
    a = sample_scene(7, 3, 12, 64, 64)
    b = sample_scene(7, 3, 12, 64, 64)
    c = sample_scene(7, 4, 12, 64, 64)
    assert json.dumps(a.to_json()) == json.dumps(b.to_json())
    assert json.dumps(a.to_json()) != json.dumps(c.to_json())


def test_random_scenes_cover_objects_motions_and_cameras():
    specs = [sample_scene(0, i, 32, 64, 64, kinds=("mixed",)) for i in range(120)]
    counts = [len(s.objects) for s in specs]
    assert min(counts) >= 2 and max(counts) <= 8
    kinds = {o.motion.kind for s in specs for o in s.objects}
    assert {"static", "translate", "rotate", "agent", "pushed", "rolling", "falling", "colliding", "struck"} <= kinds
    labels = {o.motion.label for s in specs for o in s.objects if o.motion.kind == "translate"}
    assert labels == {t[0] for t in TRANSLATIONS}  # 6 directions and the 4 horizontal diagonals
    rot = {o.motion.label for s in specs for o in s.objects if o.motion.kind == "rotate"}
    assert rot == {"cw", "ccw"}
    spins = {np.sign(o.motion.yaw_deg) for s in specs for o in s.objects if o.motion.kind == "translate"}
    assert spins == {-1.0, 0.0, 1.0}  # translating objects spin either way or not at all
    agents = {o.motion.label for s in specs for o in s.objects if o.motion.kind == "agent"}
    assert agents == {"straight", "turn_left", "turn_right", "backward", "backward_turn_left", "backward_turn_right"}
    cams = {m.kind for s in specs for m in s.camera.moves}
    assert cams == set(CAMERA_MOVES)
    assert any(len(s.camera.moves) > 1 for s in specs)
    relations = {s.camera_relation.get("relation") for s in specs} - {None}
    assert relations == {"faster", "slower", "against"}
    for s in specs:  # captions are unique within each scene
        caps = [o.caption for o in s.objects]
        assert len(set(caps)) == len(caps)
        for o in s.objects:
            assert o.colour in o.caption and o.category in o.caption and o.size_word in o.caption
            if o.motion.kind == "rotate":
                assert 45 <= abs(o.motion.yaw_deg) <= 180
            if o.motion.kind == "translate" and s.camera_relation.get("object") != o.id:
                assert 0.3 <= np.linalg.norm(o.motion.displacement) <= 1.6


def test_caption_collisions_are_resolved():
    objs = [make_object(i + 1, "cube", scale=5.0) for i in range(20)]  # same category and size
    assign_captions(objs, np.random.default_rng(0))
    caps = [o.caption for o in objs]
    assert len(set(caps)) == 20


@pytest.mark.parametrize("label,sign", [("right", 1.0), ("left", -1.0)])
def test_scripted_translation_in_first_camera_frame(label, sign):
    cam = _cam(CameraMove("static", 0.0))
    c2w = camera_pose(cam, 0.0)
    right = c2w[:3, 0].copy()
    right[2] = 0
    right /= np.linalg.norm(right)
    obj = make_object(1, "cube", motion=Motion("translate", label, displacement=tuple(sign * 0.8 * right)))
    off0, _ = scripted_pose(obj, 0.0)
    off1, _ = scripted_pose(obj, 1.0)
    x_cam = (invert_rigid(c2w)[:3, :3] @ (off1 - off0))[0]
    assert x_cam == pytest.approx(sign * 0.8 * np.linalg.norm(c2w[:3, 0][:2]), rel=1e-6)


def test_agent_moves_along_heading_and_turns():
    motion = Motion("agent", "turn_left", yaw_deg=90.0, distance=1.0)
    obj = make_object(1, "r2d2", yaw_deg=30.0, motion=motion)  # r2d2 drives along its +y
    off_a, yaw_a = scripted_pose(obj, 0.0)
    off_b, yaw_b = scripted_pose(obj, 0.01)
    heading = np.array([np.cos(np.radians(30 + 90)), np.sin(np.radians(30 + 90)), 0.0])  # +y yawed by 30
    step = (off_b - off_a) / np.linalg.norm(off_b - off_a)
    assert step @ heading > 0.999
    off_end, yaw_end = scripted_pose(obj, 1.0)
    assert yaw_end - yaw_a == pytest.approx(90.0)
    # a quarter circle of length 1 has chord sqrt(2) * 2 / pi
    assert np.linalg.norm(off_end) == pytest.approx(np.sqrt(2) * 2 / np.pi, rel=1e-6)


def test_camera_moves_do_what_they_say():
    s0 = camera_pose(_cam(CameraMove("static", 0)), 0.0)
    for s in (0.0, 0.5, 1.0):
        cam = _cam(CameraMove("pan", 30), CameraMove("jitter", 0.03, (2, 3, 4), tuple(range(18))))
        assert rigid_error(camera_pose(cam, s)) < 1e-9
    # pan: yaw changes by the amount, position fixed
    p0, p1 = camera_pose(_cam(CameraMove("pan", 30)), 0.0), camera_pose(_cam(CameraMove("pan", 30)), 1.0)
    assert wrap_degrees(yaw_pitch(p1)[0] - yaw_pitch(p0)[0]) == pytest.approx(30.0, abs=1e-6)
    assert np.allclose(p0[:3, 3], p1[:3, 3])
    # tilt: pitch changes, yaw does not
    t0, t1 = camera_pose(_cam(CameraMove("tilt", 12)), 0.0), camera_pose(_cam(CameraMove("tilt", 12)), 1.0)
    assert yaw_pitch(t1)[1] - yaw_pitch(t0)[1] == pytest.approx(12.0, abs=0.5)
    # dolly: moves along the optical axis, orientation fixed
    d1 = camera_pose(_cam(CameraMove("dolly", 0.9)), 1.0)
    assert np.allclose(d1[:3, 3] - s0[:3, 3], 0.9 * s0[:3, 2])
    assert rotation_angle(d1[:3, :3].T @ s0[:3, :3]) < 1e-6
    # truck: along camera x; pedestal: along camera up (-y)
    assert np.allclose(camera_pose(_cam(CameraMove("truck", -0.7)), 1.0)[:3, 3] - s0[:3, 3], -0.7 * s0[:3, 0])
    assert np.allclose(camera_pose(_cam(CameraMove("pedestal", 0.5)), 1.0)[:3, 3] - s0[:3, 3], -0.5 * s0[:3, 1])
    # with a pan, translations follow the FIRST camera's axes (the pan starts at -amount/2)
    tp = _cam(CameraMove("truck", 0.8), CameraMove("pan", 30))
    f0, f1 = camera_pose(tp, 0.0), camera_pose(tp, 1.0)
    assert np.allclose(f0[:3, :3].T @ (f1[:3, 3] - f0[:3, 3]), [0.8, 0, 0], atol=1e-12)
    # orbit: same distance to the target, still looking at it, yaw changes by the amount
    o1 = camera_pose(_cam(CameraMove("orbit", 40)), 1.0)
    tgt = np.array([0.0, 0.0, 0.2])
    assert np.linalg.norm(o1[:3, 3] - tgt) == pytest.approx(np.linalg.norm(s0[:3, 3] - tgt))
    to_t = (tgt - o1[:3, 3]) / np.linalg.norm(tgt - o1[:3, 3])
    assert to_t @ o1[:3, 2] == pytest.approx(1.0)
    assert wrap_degrees(yaw_pitch(o1)[0] - yaw_pitch(s0)[0]) == pytest.approx(40.0, abs=1e-6)
    # jitter: starts exactly at the base pose, small but non-zero later
    cam = _cam(CameraMove("jitter", 0.03, (1.5, 2.5, 4.0), tuple(np.linspace(0, 6, 18))))
    assert np.allclose(camera_pose(cam, 0.0), s0)
    js = np.stack([camera_pose(cam, s)[:3, 3] for s in np.linspace(0, 1, 20)])
    dev = np.linalg.norm(js - s0[:3, 3], axis=1)
    assert 0.001 < dev.max() < 0.1
