import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qa4d.geometry import (
    gravity_frame,
    look_at,
    relative_pose,
    rotation_about_axis,
    rotation_angle,
    rotation_vector,
    wrap_degrees,
    yaw_about_up,
    yaw_pitch,
)

from .strategies import finite, rigid_transforms, rotations


@given(rigid_transforms(), rigid_transforms())
def test_relative_pose_composes(a, b):
    rel = relative_pose(a, b)
    np.testing.assert_allclose(a @ rel, b, atol=1e-9)
    np.testing.assert_allclose(relative_pose(a, a), np.eye(4), atol=1e-9)


def test_relative_translation_in_first_camera_axes():
    a = look_at([0, -5, 1], [0, 0, 1])
    b = look_at([1, -4, 1], [1, 1, 1])  # moved right by 1 and forward by 1
    np.testing.assert_allclose(relative_pose(a, b)[:3, 3], [1, 0, 1], atol=1e-12)


@given(st.floats(-179, 179, **finite), st.floats(-80, 80, **finite))
def test_yaw_pitch_recovers_heading_and_elevation(yaw, pitch):
    y, p = np.radians(yaw), np.radians(pitch)
    fwd = np.array([np.cos(p) * np.cos(y), np.cos(p) * np.sin(y), np.sin(p)])
    c2w = look_at([0, 0, 0], fwd)
    got_yaw, got_pitch = yaw_pitch(c2w)
    assert abs(wrap_degrees(got_yaw - yaw)) < 1e-6
    assert abs(got_pitch - pitch) < 1e-6


@given(rotations(), st.floats(-170, 170, **finite))
def test_yaw_pitch_independent_of_world_up_choice(r, yaw):
    # Express the same cameras in a rotated world: yaw differences and pitch are unchanged.
    cams = np.stack([look_at([0, 0, 0], [1, 0, 0.2]), look_at([0, 0, 0], [np.cos(np.radians(yaw)), np.sin(np.radians(yaw)), -0.1])])
    world = np.eye(4)
    world[:3, :3] = r
    y0, p0 = yaw_pitch(cams)
    y1, p1 = yaw_pitch(world @ cams, world_up=r @ [0, 0, 1])
    np.testing.assert_allclose(wrap_degrees(np.diff(y1) - np.diff(y0)), 0, atol=1e-6)
    np.testing.assert_allclose(p1, p0, atol=1e-6)


@given(rotations())
def test_gravity_frame_is_rotation_with_up_last(r):
    up = r @ [0, 0, 1]
    g = gravity_frame(up)
    np.testing.assert_allclose(g @ g.T, np.eye(3), atol=1e-9)
    assert abs(np.linalg.det(g) - 1) < 1e-9
    np.testing.assert_allclose(g[2], up, atol=1e-9)


@given(st.floats(-170, 170, **finite), st.lists(st.floats(-1, 1, **finite), min_size=3, max_size=3))
def test_rotation_vector_and_angle(angle, axis):
    axis = np.array(axis)
    if np.linalg.norm(axis) < 1e-3:
        axis = np.array([0.0, 0, 1])
    r = rotation_about_axis(axis, angle)
    assert abs(rotation_angle(r) - abs(angle)) < 1e-6
    np.testing.assert_allclose(rotation_vector(r), np.radians(angle) * axis / np.linalg.norm(axis), atol=1e-6)


def test_yaw_about_up_sign_is_ccw_from_above():
    assert yaw_about_up(rotation_about_axis([0, 0, 1], 30)) > 29.9
    assert yaw_about_up(rotation_about_axis([0, 0, 1], -30)) < -29.9
    assert abs(yaw_about_up(rotation_about_axis([1, 0, 0], 30))) < 1e-9  # tilting is not turning


def test_rotation_angle_precise_for_tiny_rotations():
    r = rotation_about_axis([0, 0, 1], 1e-5)
    assert abs(rotation_angle(r) - 1e-5) < 1e-10
