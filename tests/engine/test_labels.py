import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.engine.families.fourdpqa import labels as L
from qa4d.engine import measure as M
from qa4d.geometry import look_at, rotation_about_axis

from ..geometry.strategies import finite, rigid_transforms
from .toy_scenes import (
    UP,
    camera_path,
    make_scene,
    mirror_scene,
    object_path,
    pose,
    static_camera,
    transform_scene,
)

T = 8
FRAMES = list(range(T))
TH = L.load_thresholds("test")
# A still object 6 m in front of the camera: the scene scale of these scenes is 6 m, so the camera
# translation band is [0.3, 0.6] m.
ANCHOR = object_path([(0.0, 0.0, 1.5)] * T)


def camera_label(cams, objects=None):
    scene = make_scene(cams, objects or [ANCHOR])
    return L.camera_movement_label(M.camera_motion_scene(scene, FRAMES), TH)


def trucking(total):
    """Camera at y=-6 looking along +y, moving `total` metres along +x."""
    xs = np.linspace(0, total, T)
    return camera_path([(x, -6, 1.5) for x in xs], [(x, 0, 1.5) for x in xs])


def panning(total_deg, eye=(0.0, -6.0, 1.5)):
    base = look_at(np.array(eye), np.array(eye) + [0, 1, 0])
    return np.stack([pose(rotation_about_axis(UP, a) @ base[:3, :3], eye) for a in np.linspace(0, total_deg, T)])


# ----------------------------------------------------------------------------- camera movement


def test_camera_moving_right_left_and_static():
    assert camera_label(trucking(1.0)) == ["right"]
    assert camera_label(trucking(-1.0)) == ["left"]
    assert camera_label(static_camera(T, eye=(0, -6, 1.5), target=(0, 0, 1.5))) == ["static"]
    assert camera_label(trucking(0.2)) == ["static"]  # below the band: too small to mention


def test_camera_translation_at_the_threshold_is_dropped():
    assert camera_label(trucking(0.45)) is None  # inside [0.3, 0.6]
    assert camera_label(trucking(0.62)) == ["right"]


def test_camera_translation_band_is_relative_to_scene_scale():
    # The same 0.45 m move is clearly a move in a scene 2 m deep.
    near = object_path([(0.0, -4.0, 1.5)] * T)
    assert camera_label(trucking(0.45), [near]) == ["right"]


def test_camera_panning_left_and_right():
    assert camera_label(panning(30)) == ["pan_left"]
    assert camera_label(panning(-30)) == ["pan_right"]
    assert camera_label(panning(7.5)) is None  # inside [5, 10] degrees


def test_camera_combined_motion_in_vocabulary_order():
    xs = np.linspace(0, 1.5, T)
    eyes = [(x, -6 + x, 1.5 - 0.6 * x) for x in xs]  # right, forward and down
    base = [look_at(np.array(e), np.array(e) + [0, 1, 0]) for e in eyes]
    cams = np.stack([pose(rotation_about_axis(UP, -20 * i / (T - 1)) @ b[:3, :3], b[:3, 3]) for i, b in enumerate(base)])
    assert camera_label(cams) == ["right", "down", "forward", "pan_right"]


def test_camera_tilt_and_roll_labels():
    cams = camera_path([(0, -6, 1.5)] * T, [(0, 0, 1.5 + 6 * np.tan(np.radians(a))) for a in np.linspace(0, 20, T)])
    assert camera_label(cams) == ["tilt_up"]
    base = look_at(np.array([0, -6, 1.5]), np.array([0, 0, 1.5]))
    cw = np.stack([base @ pose(rotation_about_axis([0, 0, 1], a)) for a in np.linspace(0, 25, T)])
    assert camera_label(cw) == ["roll_cw"]
    ccw = np.stack([base @ pose(rotation_about_axis([0, 0, 1], -a)) for a in np.linspace(0, 25, T)])
    assert camera_label(ccw) == ["roll_ccw"]


def test_camera_that_moves_and_comes_back_is_not_static():
    xs = np.concatenate([np.linspace(0, 1, T // 2), np.linspace(1, 0, T - T // 2)])
    cams = camera_path([(x, -6, 1.5) for x in xs], [(x, 0, 1.5) for x in xs])
    assert camera_label(cams) is None


def test_camera_looking_straight_down_is_not_labelled():
    cams = camera_path([(0.2 * t, 0, 6) for t in range(T)], [(0.2 * t, 0.01, 0) for t in range(T)])
    assert camera_label(cams) is None


def test_camera_scale_unknown_uses_metres():
    m = M.camera_motion(trucking(0.2), FRAMES, UP)  # no scale: band [0.15, 0.3] m
    assert L.camera_movement_label(m, TH) is None
    assert L.camera_movement_label(M.camera_motion(trucking(0.4), FRAMES, UP), TH) == ["right"]


# ----------------------------------------------------------------------------- distances


def test_object_approaching_camera_decreases_and_moves_towards():
    scene = make_scene(static_camera(T), [object_path([(0, -0.4 * t, 0.5) for t in range(T)])])
    assert L.distance_change_label(M.distance_series_camera(scene, 0, FRAMES), TH) == "decreasing"
    assert L.direction_label(M.object_direction(scene, 0, FRAMES), TH) == ["towards"]


def test_distance_change_labels_and_dead_bands():
    assert L.distance_change_label([5.0, 5.5, 6.0], TH) == "increasing"
    assert L.distance_change_label([5.0, 5.02, 4.99, 5.01], TH) == "constant"
    assert L.distance_change_label([5.0, 5.35], TH) is None  # +7 %: inside [5 %, 10 %]
    assert L.distance_change_label([5.0, 7.0, 5.6], TH) is None  # up then down by 28 %
    assert L.distance_change_label([5.0, 4.0, 6.0], TH) is None  # net +20 % but not monotonic
    assert L.distance_change_label([5.0, 5.6, 5.0], TH) is None  # returns, but strayed: not constant
    assert L.distance_change_label([5.0, np.nan, 4.0], TH) == "decreasing"
    assert L.distance_change_label([np.nan, 4.0], TH) is None
    # Tiny distances are measured against the 0.25 m floor: 0.01 -> 0.02 m is +4 %, not +100 %.
    assert L.distance_change_label([0.01, 0.02], TH) == "constant"
    assert L.distance_change_label([0.01, 0.03], TH) is None  # +8 % of the floor
    assert L.distance_change_label([0.01, 0.2], TH) == "increasing"


def test_object_pairs_with_known_distances():
    a = object_path([(0, 0, 0.5)] * T)
    b = object_path([(4 - 0.4 * t, 0, 0.5) for t in range(T)])
    c = object_path([(-3, 0, 0.5)] * T)
    scene = make_scene(static_camera(T), [a, b, c])
    assert L.distance_change_label(M.distance_series_objects(scene, 0, 1, FRAMES), TH) == "decreasing"
    assert L.distance_change_label(M.distance_series_objects(scene, 0, 2, FRAMES), TH) == "constant"
    # Frame 0: b is 4 m from a, c is 3 m from a -> c is closer; frame 7: b is 1.2 m away.
    d_ab, d_ac = M.object_object_distance(scene, 0, 1, 0), M.object_object_distance(scene, 0, 2, 0)
    assert L.compare_label(d_ab, d_ac, TH, task="object_object_distance") == "a"
    d_ab = M.object_object_distance(scene, 0, 1, 7)
    assert L.compare_label(d_ab, d_ac, TH, task="object_object_distance") == "b"


def test_compare_label_dead_band():
    assert L.compare_label(10.0, 8.0, rel=0.1) == "a"
    assert L.compare_label(8.0, 10.0, rel=0.1) == "b"
    assert L.compare_label(10.0, 9.5, rel=0.1) is None
    assert L.compare_label(np.nan, 1.0, rel=0.1) is None
    assert L.compare_label(0.0, 0.0, rel=0.1) is None
    assert L.compare_label(1.0, 1.25, TH, task="moved_distance") == "b"
    assert L.compare_label(1.0, 1.15, TH, task="moved_distance") is None
    with pytest.raises(KeyError, match="compare_rel"):
        L.compare_label(1.0, 2.0, TH, task="no_such_task")
    with pytest.raises(ValueError, match="rel="):
        L.compare_label(1.0, 2.0)


# ----------------------------------------------------------------------------- object motion


def spinning(total_deg):
    yaws = np.linspace(0, total_deg, T)
    return object_path([(0, 0, 0.5)] * T, yaws=yaws)


def rotation_of(poses):
    r = M.object_rotation(make_scene(static_camera(T), [poses]), 0, FRAMES)
    return L.rotation_label(r["yaw"], TH, tilt=r["tilt"])


def test_object_turning_counterclockwise_seen_from_above():
    assert rotation_of(spinning(90)) == "counterclockwise"
    assert rotation_of(spinning(-90)) == "clockwise"
    assert rotation_of(spinning(5)) == "none"
    assert rotation_of(spinning(22)) is None  # inside [15, 30]
    assert rotation_of(spinning(720)) == "counterclockwise"  # two full turns do not wrap to 0


def test_rotation_of_a_tumbling_object_is_not_labelled():
    poses = np.stack([pose(rotation_about_axis(UP, 10 * t) @ rotation_about_axis([1, 0, 0], 8 * t)) for t in range(T)])
    assert rotation_of(poses) is None
    assert L.rotation_label(90.0, TH) == "counterclockwise"  # without tilt information


def direction_of(positions, camera=None):
    scene = make_scene(static_camera(T) if camera is None else camera, [object_path(positions)])
    return L.direction_label(M.object_direction(scene, 0, FRAMES), TH)


def test_object_direction_labels():
    # Camera at (0, -6, 1.5) looking at (0, 0, 0.5); band max(0.1, 0.08 * ~6.1) ~ 0.49 m.
    line = lambda v: [tuple(np.array([0, 0, 0.5]) + np.array(v) * t / (T - 1)) for t in range(T)]
    assert direction_of(line([1.5, 0, 0])) == ["right"]
    assert direction_of(line([-1.5, 0, 1.0])) == ["left", "up"]
    assert direction_of(line([0, 2.0, 0])) == ["away"]
    assert direction_of(line([0, 0, 0])) == ["static"]
    assert direction_of(line([0.35, 0, 0])) is None  # inside the band
    # Direction is judged from the FIRST viewpoint: a camera that swings around afterwards
    # does not change the answer.
    swing = camera_path([(6 * np.sin(a), -6 * np.cos(a), 1.5) for a in np.linspace(0, 1.2, T)], [(0, 0, 0.5)] * T)
    assert direction_of(line([1.5, 0, 0]), camera=swing) == ["right"]


def agent_label(poses, size=4.0):
    scene = make_scene(static_camera(T), [poses], extents=[[size, size / 2, 1.5]], agents=(0,))
    return L.agent_motion_label(M.agent_motion(scene, 0, FRAMES), TH)


def test_agent_driving_forward_and_turning_left():
    R, a = 10.0, np.radians(np.linspace(0, 45, T))
    poses = object_path(np.stack([R * np.cos(a), R * np.sin(a), np.zeros(T)], 1), yaws=90 + np.degrees(a))
    assert agent_label(poses) == {"move": "forward", "turn": "left"}
    # The same arc driven clockwise is a right turn.
    poses = object_path(np.stack([R * np.cos(a), -R * np.sin(a), np.zeros(T)], 1), yaws=-90 - np.degrees(a))
    assert agent_label(poses) == {"move": "forward", "turn": "right"}


def test_agent_reversing_stationary_and_sideways():
    back = object_path([(-0.5 * t, 0, 0) for t in range(T)])  # forward axis +x, moving -x
    assert agent_label(back) == {"move": "backward", "turn": "straight"}
    turn_in_place = object_path([(0, 0, 0)] * T, yaws=np.linspace(0, 90, T))
    assert agent_label(turn_in_place) == {"move": "stationary", "turn": "left"}
    sideways = object_path([(0, 0.5 * t, 0) for t in range(T)])
    assert agent_label(sideways) is None
    short = object_path([(0.2 * t, 0, 0) for t in range(T)])  # 1.4 m: between 1 and 2 car lengths / 4
    assert agent_label(short) is None


def test_agent_sideways_rule_forward_must_dominate_lateral_motion():
    # size 4 m -> band [1, 2] m; agent_forward_ratio 1: |forward| >= |left| is needed for a move label
    assert TH.agent_forward_ratio == 1.0
    # an agent facing +y (yaw 90 deg, forward axis +x in its own frame): +y is forward, -x is its left
    def diagonal(fwd, left):
        return object_path([(-left * t / (T - 1), fwd * t / (T - 1), 0) for t in range(T)], yaws=[90] * T)

    assert agent_label(diagonal(3.0, 2.0)) == {"move": "forward", "turn": "straight"}   # mostly forward
    assert agent_label(diagonal(3.0, -2.9)) == {"move": "forward", "turn": "straight"}  # right, still less
    assert agent_label(diagonal(-3.0, 2.5)) == {"move": "backward", "turn": "straight"}
    assert agent_label(diagonal(2.5, 3.0)) is None    # forward clearly above the band, but more sideways
    assert agent_label(diagonal(-2.5, -3.0)) is None
    assert agent_label(diagonal(0.0, 3.0)) is None    # purely to its left
    # the ratio is a threshold: a stricter one refuses the 3 : 2 diagonal, a looser one takes 2.5 : 3
    m = M.agent_motion(make_scene(static_camera(T), [diagonal(3.0, 2.0)], extents=[[4, 2, 1.5]], agents=(0,)), 0, FRAMES)
    assert m["forward"] == pytest.approx(3.0) and m["left"] == pytest.approx(2.0)
    strict = L.load_thresholds("test", overrides={"agent_forward_ratio": 2.0})
    assert L.agent_motion_label(m, strict) is None
    loose = L.load_thresholds("test", overrides={"agent_forward_ratio": 0.5})
    m2 = M.agent_motion(make_scene(static_camera(T), [diagonal(2.5, 3.0)], extents=[[4, 2, 1.5]], agents=(0,)), 0, FRAMES)
    assert L.agent_motion_label(m2, loose) == {"move": "forward", "turn": "straight"}


# ----------------------------------------------------------------------------- properties

FLIP = {"left": "right", "right": "left", "pan_left": "pan_right", "pan_right": "pan_left",
        "roll_cw": "roll_ccw", "roll_ccw": "roll_cw", "clockwise": "counterclockwise",
        "counterclockwise": "clockwise"}


def flipped(label):
    if label is None:
        return None
    if isinstance(label, str):
        return FLIP.get(label, label)
    if isinstance(label, dict):
        return {k: FLIP.get(v, v) for k, v in label.items()}
    return sorted((FLIP.get(x, x) for x in label), key=(L.CAMERA_MOVEMENT_LABELS + ("static",)).index)


vec = st.lists(st.floats(-1.0, 1.0, **finite), min_size=3, max_size=3).map(np.array)


@st.composite
def random_scenes(draw):
    """A camera and an agent, both moving along straight lines while turning."""
    cam_v, cam_w, obj_v = draw(vec), draw(vec) * 0.5, draw(vec)
    cam_v[2] *= 0.3
    roll, spin = draw(st.floats(-5, 5, **finite)), draw(st.floats(-25, 25, **finite))
    eye0, target0 = np.array([0.3, -6.0, 1.5]), np.array([0.0, 0.0, 0.5])
    cams = np.stack([
        look_at(eye0 + cam_v * t / T * 2, target0 + cam_w * t / T * 4) @ pose(rotation_about_axis([0, 0, 1], roll * t))
        for t in range(T)
    ])
    agent = object_path([np.array([0.5, 0.5, 0.5]) + obj_v * t / T * 3 for t in range(T)], yaws=[20 + spin * t for t in range(T)])
    other = object_path([(-1.0, 1.0, 0.3)] * T)
    return make_scene(cams, [agent, other], agents=(0,), extents=[[1.0, 0.5, 0.5], [0.3, 0.3, 0.3]])


def all_labels(scene):
    return {
        "camera": L.camera_movement_label(M.camera_motion_scene(scene, FRAMES), TH),
        "direction": L.direction_label(M.object_direction(scene, 0, FRAMES), TH),
        "rotation": L.rotation_label(M.object_rotation(scene, 0, FRAMES)["yaw"], TH),
        "agent": L.agent_motion_label(M.agent_motion(scene, 0, FRAMES), TH),
        "cam_dist": L.distance_change_label(M.distance_series_camera(scene, 0, FRAMES), TH),
        "obj_dist": L.distance_change_label(M.distance_series_objects(scene, 0, 1, FRAMES), TH),
    }


@settings(max_examples=40, deadline=None)
@given(random_scenes())
def test_mirrored_motion_flips_left_and_right(scene):
    a, b = all_labels(scene), all_labels(mirror_scene(scene))
    assert b["camera"] == flipped(a["camera"])
    assert b["direction"] == (None if a["direction"] is None else sorted(
        (FLIP.get(x, x) for x in a["direction"]), key=(L.DIRECTION_LABELS + ("static",)).index))
    assert b["rotation"] == flipped(a["rotation"])
    assert b["agent"] == flipped(a["agent"])
    assert b["cam_dist"] == a["cam_dist"] and b["obj_dist"] == a["obj_dist"]


@settings(max_examples=40, deadline=None)
@given(random_scenes(), rigid_transforms(scale=50.0))
def test_rigid_transform_of_the_world_leaves_every_label_unchanged(scene, g):
    assert all_labels(transform_scene(scene, g)) == all_labels(scene)


def test_the_random_scenes_exercise_real_labels():
    # Guard against the properties above passing vacuously (everything None).
    rng = np.random.default_rng(0)
    seen = {"camera": set(), "rotation": set(), "agent": set()}
    for _ in range(40):
        v, w, o = rng.uniform(-1, 1, (3, 3))
        spin = rng.uniform(-25, 25)
        cams = np.stack([look_at(np.array([0.3, -6, 1.5]) + v * t / T * 2, np.array([0, 0, 0.5]) + w * t / T * 2) for t in range(T)])
        agent = object_path([np.array([0.5, 0.5, 0.5]) + o * t / T * 3 for t in range(T)], yaws=[spin * t for t in range(T)])
        labels = all_labels(make_scene(cams, [agent, object_path([(-1, 1, 0.3)] * T)], agents=(0,), extents=[[1, .5, .5], [.3, .3, .3]]))
        seen["camera"].update(labels["camera"] or [])
        seen["rotation"].add(labels["rotation"])
        seen["agent"].add(None if labels["agent"] is None else labels["agent"]["turn"])
    assert {"left", "right", "pan_left", "pan_right"} <= seen["camera"]
    assert {"clockwise", "counterclockwise"} <= seen["rotation"]
    assert {"left", "right"} <= seen["agent"]


# ----------------------------------------------------------------------------- thresholds


def test_source_overrides_and_explicit_overrides(tmp_path):
    sim = L.load_thresholds("sim")
    assert sim.static_m < TH.static_m and sim.camera_rotation_deg == TH.camera_rotation_deg
    th = L.load_thresholds("sim", {"rotation_deg": [1, 2], "compare_rel": {"depth": 0.3}})
    assert th.rotation_deg == (1.0, 2.0)
    assert th.compare("depth") == 0.3 and th.compare("moved_distance") == TH.compare("moved_distance")
    assert L.rotation_label(1.5, th) is None and L.rotation_label(2.5, th) == "counterclockwise"
    json.dumps(th.to_dict())  # recordable


def test_bad_thresholds_name_the_file_block_and_key(tmp_path):
    with pytest.raises(L.ThresholdsError, match=r"overrides for source 'sim': unknown key 'rotation'"):
        L.load_thresholds("sim", {"rotation": [1, 2]})
    with pytest.raises(L.ThresholdsError, match=r"'rotation_deg' must be a band"):
        L.load_thresholds("sim", {"rotation_deg": [3, 2]})
    data = json.loads(L.THRESHOLDS_FILE.read_text())
    data["sources"]["real"] = {"moving_m": -1}
    path = tmp_path / "th.json"
    path.write_text(json.dumps(data))
    with pytest.raises(L.ThresholdsError, match=r"th.json: sources.real: 'moving_m' must be a non-negative number"):
        L.load_thresholds("real", path=path)
    del data["default"]["static_m"]
    path.write_text(json.dumps(data))
    with pytest.raises(L.ThresholdsError, match=r"default: missing keys \['static_m'\]"):
        L.load_thresholds("x", path=path)


# ----------------------------------------------------------------------------- vocabulary


def test_vocabulary_matches_the_canonical_labels_and_has_phrases():
    assert L.vocabulary("camera_movement") == L.CAMERA_MOVEMENT_LABELS + ("static",)
    assert L.vocabulary("object_direction") == L.DIRECTION_LABELS + ("static",)
    assert L.vocabulary("camera_object_distance_change") == L.DISTANCE_CHANGE_LABELS
    assert L.vocabulary("object_rotation") == L.ROTATION_LABELS
    assert L.vocabulary("agent_move") == L.AGENT_MOVE_LABELS
    assert L.vocabulary("agent_turn") == L.AGENT_TURN_LABELS
    for group, entries in L.load_vocab().items():
        for label, phrases in entries.items():
            assert len(phrases) >= 3 and len(set(phrases)) == len(phrases), (group, label)


def test_describe_phrases_labels():
    assert L.describe("camera_movement", ["right", "pan_left"]) == "moves to the right and pans to the left"
    assert L.describe("camera_movement", ["left", "up", "tilt_down"]) == "moves to the left, moves upward and tilts downward"
    assert L.describe("object_object_distance_change", "increasing") == "increases"
    assert L.describe("agent_motion", {"move": "backward", "turn": "straight"}) == "moves backward without turning"
    rng = np.random.default_rng(3)
    assert L.describe("object_rotation", "clockwise", rng) in L.load_vocab()["rotation"]["clockwise"]
    with pytest.raises(KeyError, match="not a label"):
        L.describe("object_rotation", "sideways")
    with pytest.raises(KeyError, match="no descriptive labels"):
        L.describe("depth", "a")
