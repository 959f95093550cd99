import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qa4d.geometry import (
    depth_test_visibility,
    intrinsics_from_fov,
    look_at,
    project_world,
    true_motion_tracks,
    visual_tracks,
)

from .strategies import points, rigid_transforms


def camera_path(start, steps):
    """(T,4,4) cameras: a start pose followed by relative rigid steps."""
    poses = [start]
    for s in steps:
        poses.append(poses[-1] @ s)
    return np.stack(poses)


tracks_st = st.integers(1, 6).flatmap(lambda t: points(1, 8).map(lambda p: (p, t)))


@given(rigid_transforms(), tracks_st, st.data())
def test_static_camera_true_motion_equals_visual(c2w, pts_t, data):
    pts, t_len = pts_t
    rng = np.random.default_rng(len(pts))
    tracks = pts[:, None, :] + rng.normal(size=(len(pts), t_len, 3))
    k = np.repeat(intrinsics_from_fov(64, 48, 60)[None], t_len, 0)
    cams = np.repeat(c2w[None], t_len, 0)
    ref = data.draw(st.integers(0, t_len - 1))
    p2d, z1 = visual_tracks(tracks, k, cams)
    m2d, z2 = true_motion_tracks(tracks, k, cams, ref)
    np.testing.assert_allclose(m2d, p2d, equal_nan=True)
    np.testing.assert_allclose(z1, z2)


@given(rigid_transforms(), st.lists(rigid_transforms(scale=1.0), min_size=1, max_size=5), points(1, 8), st.data())
def test_static_point_has_constant_true_motion_track(c2w, steps, pts, data):
    cams = camera_path(c2w, steps)
    t_len = len(cams)
    k = np.repeat(intrinsics_from_fov(64, 48, 60)[None], t_len, 0)
    tracks = np.repeat(pts[:, None, :], t_len, axis=1)
    ref = data.draw(st.integers(0, t_len - 1))
    m2d, z = true_motion_tracks(tracks, k, cams, ref)
    np.testing.assert_allclose(m2d, np.repeat(m2d[:, ref : ref + 1], t_len, 1), equal_nan=True)
    # ... and at the reference frame the two kinds of track agree (p[t_q] = m_tq[t_q]).
    p2d, _ = visual_tracks(tracks, k, cams)
    np.testing.assert_allclose(m2d[:, ref], p2d[:, ref], equal_nan=True)


def test_camera_moving_right_makes_static_point_move_left_in_visual_track():
    cams = np.stack([look_at([x, -5, 0], [x, 0, 0]) for x in (0.0, 0.5, 1.0)])
    k = np.repeat(intrinsics_from_fov(100, 100, 60)[None], 3, 0)
    p2d, _ = visual_tracks(np.zeros((1, 3, 3)), k, cams)
    assert np.all(np.diff(p2d[0, :, 0]) < 0)            # apparent motion: leftwards
    m2d, _ = true_motion_tracks(np.zeros((1, 3, 3)), k, cams, 0)
    np.testing.assert_allclose(np.diff(m2d[0, :, 0]), 0)  # true motion: none


def test_depth_test_visibility_marks_occluded_and_outside():
    k = intrinsics_from_fov(20, 20, 60)
    c2w = look_at([0, -5, 0], [0, 0, 0])
    pts = np.array([[0.0, 0, 0], [0.0, 1.0, 0], [30.0, 0, 0]])  # on surface, behind it, off-screen
    uv, z = project_world(pts, k, c2w)
    depth = np.full((1, 20, 20), 5.0, np.float32)
    vis = depth_test_visibility(uv[:, None], z[:, None], depth)
    assert vis[:, 0].tolist() == [True, False, False]
    depth[:] = 0.0  # unknown depth: nothing can be confirmed visible
    assert not depth_test_visibility(uv[:, None], z[:, None], depth).any()
