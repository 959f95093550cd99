import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import (
    in_image,
    invert_rigid,
    look_at,
    pixel_grid,
    project,
    project_world,
    rigid_error,
    transform_points,
    unproject,
    unproject_to_world,
    depth_to_points,
)

from .strategies import finite, intrinsics, points, rigid_transforms

settings.register_profile("qa4d", max_examples=60, deadline=None)
settings.load_profile("qa4d")


@given(intrinsics(), points(lo=0.0, hi=1.0), st.floats(0.05, 100.0, **finite))
def test_project_unproject_round_trip(cam, unit_uv, depth):
    k, w, h = cam
    uv = unit_uv[:, :2] * [w, h]
    pts = unproject(uv, np.full(len(uv), depth), k)
    uv2, z = project(pts, k)
    np.testing.assert_allclose(uv2, uv, atol=1e-6 * max(w, h))
    np.testing.assert_allclose(z, depth)


@given(intrinsics(), rigid_transforms(), points())
def test_world_round_trip_through_any_camera(cam, c2w, pts):
    k, _, _ = cam
    uv, z = project_world(pts, k, c2w)
    front = z > 1e-3
    back = unproject_to_world(uv[front], z[front], k, c2w)
    np.testing.assert_allclose(back, pts[front], atol=1e-6)
    assert np.isnan(uv[~front & (z <= 0)]).all()


@given(rigid_transforms(), points())
def test_inverse_rigid_undoes_transform(t, pts):
    assert rigid_error(t) < 1e-9
    back = transform_points(invert_rigid(t), transform_points(t, pts))
    np.testing.assert_allclose(back, pts, atol=1e-9)
    np.testing.assert_allclose(invert_rigid(t) @ t, np.eye(4), atol=1e-9)


def test_rigid_error_flags_scaled_rotation():
    t = np.eye(4)
    t[:3, :3] *= 1.01
    assert rigid_error(t) > 1e-3
    m = np.eye(4)
    m[0, 0] = -1  # a reflection is orthonormal but not a rotation
    assert rigid_error(m) > 1.0


def test_look_at_axes_follow_opencv():
    c2w = look_at([0, -5, 0], [0, 0, 0])  # camera on -y looking along +y, z up
    np.testing.assert_allclose(c2w[:3, 2], [0, 1, 0])   # forward
    np.testing.assert_allclose(c2w[:3, 0], [1, 0, 0])   # right
    np.testing.assert_allclose(c2w[:3, 1], [0, 0, -1])  # image down = world down
    k = np.array([[100.0, 0, 50], [0, 100, 50], [0, 0, 1]])
    uv, z = project_world(np.array([[1.0, 0, 0], [0, 0, 1.0]]), k, c2w)
    assert uv[0, 0] > 50 and abs(uv[0, 1] - 50) < 1e-9   # world +x is image right
    assert uv[1, 1] < 50                                  # world up is image up
    np.testing.assert_allclose(z, [5, 5])


def test_depth_to_points_and_pixel_grid():
    k = np.array([[10.0, 0, 2], [0, 10, 1.5], [0, 0, 1]])
    depth = np.full((3, 4), 2.0)
    pts = depth_to_points(depth, k)
    assert pts.shape == (3, 4, 3)
    uv, _ = project(pts, k)
    np.testing.assert_allclose(uv, pixel_grid(3, 4))
    assert in_image(uv, 4, 3).all() and not in_image(np.array([4.0, 0.0]), 4, 3)
