import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import (
    camera_displacement,
    camera_movement,
    look_at,
    rotation_about_axis,
    sign_labels,
    translation_directions,
    yaw_pitch_change,
)

from .strategies import finite


def heading(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    return np.array([np.cos(p) * np.cos(y), np.cos(p) * np.sin(y), np.sin(p)])


def pair(move_cam1_axes, yaw_deg: float, pitch_deg: float, start=(1.0, 2.0, 1.5), yaw0: float = 0.0):
    """Camera 1 at `start`, level, heading yaw0 (z up); camera 2 displaced by `move_cam1_axes`
    (right, down, forward of camera 1) and heading yaw0 + yaw_deg, pitched by pitch_deg."""
    start = np.asarray(start, dtype=float)
    c1 = look_at(start, start + heading(yaw0, 0.0))
    pos2 = start + c1[:3, :3] @ np.asarray(move_cam1_axes, dtype=float)
    c2 = look_at(pos2, pos2 + heading(yaw0 + yaw_deg, pitch_deg))
    return c1, c2


def test_known_translation_and_rotation_give_exact_values_and_words():
    c1, c2 = pair([0.3, -0.2, 1.1], 61.7, -12.4)
    m = camera_movement(c1, c2)
    np.testing.assert_allclose(m.displacement_m, [0.3, -0.2, 1.1], atol=1e-12)
    assert m.distance_m == pytest.approx(np.sqrt(0.09 + 0.04 + 1.21), abs=1e-12)
    assert m.yaw_deg == pytest.approx(61.7, abs=1e-9) and m.pitch_deg == pytest.approx(-12.4, abs=1e-9)
    assert m.directions == {"x": "right", "y": "up", "z": "forward", "yaw": "left", "pitch": "down"}
    assert m.displacement_mm() == [300, -200, 1100]
    assert m.distance_mm() == round(1000 * np.sqrt(1.34))  # 1158
    assert m.distance_mm("truncate") == int(1000 * np.sqrt(1.34))
    assert (m.yaw_degrees(), m.yaw_degrees("truncate")) == (62, 61)
    assert (m.pitch_degrees(), m.pitch_degrees("truncate")) == (12, 12)


def test_opposite_motion_gives_opposite_words():
    c1, c2 = pair([-0.5, 0.25, -0.75], -20.0, 15.0)
    m = camera_movement(c1, c2)
    assert m.directions == {"x": "left", "y": "down", "z": "backward", "yaw": "right", "pitch": "up"}
    assert m.displacement_mm() == [-500, 250, -750]


def test_yaw_change_wraps_across_180():
    c1, c2 = pair([0.0, 0.0, 1.0], 20.0, 0.0, yaw0=170.0)  # 170 -> 190 = -170 degrees
    dyaw, dpitch = yaw_pitch_change(c1, c2)
    assert dyaw == pytest.approx(20.0, abs=1e-9) and dpitch == pytest.approx(0.0, abs=1e-9)
    assert camera_movement(c1, c2).directions["yaw"] == "left"


def test_dead_band_leaves_small_components_undecided_and_default_is_the_papers():
    c1, c2 = pair([0.004, 0.0, 0.5], 0.3, -2.0)
    paper = camera_movement(c1, c2)
    assert paper.directions["x"] == "right" and paper.directions["y"] in ("up", "down")
    banded = camera_movement(c1, c2, dead_band_m=0.01, dead_band_deg=1.0)
    assert banded.directions == {"x": "", "y": "", "z": "forward", "yaw": "", "pitch": "down"}
    # Exactly zero is "left"/"up"/"backward" under the paper's rule (x > 0 else ...).
    np.testing.assert_array_equal(translation_directions(np.zeros(3)), ["left", "up", "backward"])
    np.testing.assert_array_equal(sign_labels([-1.0, 0.0, 2.0], "l", "r", dead_band=0.5), ["r", "", "l"])
    np.testing.assert_array_equal(sign_labels([np.nan, 0.0], "l", "r"), ["", "r"])  # undefined: never a word


def signed(lo, hi):
    """Floats with lo <= |x| <= hi, either sign (away from the 0 where the words switch)."""
    return st.tuples(st.floats(lo, hi, **finite), st.sampled_from([-1.0, 1.0])).map(lambda t: t[0] * t[1])


@settings(max_examples=80, deadline=None)
@given(
    st.lists(signed(1e-4, 3), min_size=3, max_size=3),
    signed(1e-4, 170),
    signed(1e-4, 80),
    st.floats(-180, 180, **finite),
)
def test_any_known_motion_is_recovered(move, yaw, pitch, yaw0):
    c1, c2 = pair(move, yaw, pitch, yaw0=yaw0)
    m = camera_movement(c1, c2)
    np.testing.assert_allclose(m.displacement_m, move, atol=1e-9)
    assert m.yaw_deg == pytest.approx(yaw, abs=1e-7) and m.pitch_deg == pytest.approx(pitch, abs=1e-7)
    words = [("right" if move[0] > 0 else "left"), ("down" if move[1] > 0 else "up"),
             ("forward" if move[2] > 0 else "backward")]
    assert [m.directions[a] for a in "xyz"] == words
    assert m.directions["yaw"] == ("left" if yaw > 0 else "right")
    assert m.directions["pitch"] == ("up" if pitch > 0 else "down")


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-3, 3, **finite), min_size=3, max_size=3),
    st.floats(-170, 170, **finite),
    st.floats(-60, 60, **finite),
    st.floats(-180, 180, **finite),
    st.lists(st.floats(-10, 10, **finite), min_size=3, max_size=3),
)
def test_invariant_to_where_the_world_is_and_antisymmetric_under_swap(move, yaw, pitch, turn, shift):
    c1, c2 = pair(move, yaw, pitch)
    world = np.eye(4)
    world[:3, :3] = rotation_about_axis([0, 0, 1], turn)  # any rotation about up keeps yaw changes
    world[:3, 3] = shift
    a = camera_movement(c1, c2)
    b = camera_movement(world @ c1, world @ c2)
    np.testing.assert_allclose(a.displacement_m, b.displacement_m, atol=1e-9)
    assert a.yaw_deg == pytest.approx(b.yaw_deg, abs=1e-7) and a.pitch_deg == pytest.approx(b.pitch_deg, abs=1e-7)
    back = camera_movement(c2, c1)
    assert back.distance_m == pytest.approx(a.distance_m, abs=1e-9)
    assert back.yaw_deg == pytest.approx(-a.yaw_deg, abs=1e-7) and back.pitch_deg == pytest.approx(-a.pitch_deg, abs=1e-7)
    # Camera 1 seen from camera 2: -R_12^T d.
    rel = np.linalg.inv(c1) @ c2
    np.testing.assert_allclose(camera_displacement(c2, c1), -rel[:3, :3].T @ rel[:3, 3], atol=1e-9)
