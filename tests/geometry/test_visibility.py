import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import depth_at, overlap_ratio, pairwise_overlap, visible_points

from .strategies import rigid_transforms

# A pinhole camera with f = 100 px, 100 x 100 px, principal point at the centre: at depth Z it
# sees x, y in [-Z/2, Z/2) (0 <= u = 100 x / Z + 50 < 100).
K = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
W = H = 100


def camera_at(x: float, y: float = 0.0, z: float = 0.0) -> np.ndarray:
    """Camera looking along world +z (world axes = camera axes), centre at (x, y, z)."""
    c2w = np.eye(4)
    c2w[:3, 3] = [x, y, z]
    return c2w


def wall_depth(z: float, shape=(H, W)) -> np.ndarray:
    return np.full(shape, z)


def grid_on_plane(z: float) -> np.ndarray:
    """Points at x = -1.95, -1.85, ..., 1.95 and y = -0.95, ..., 0.95 on the plane at depth z."""
    xs = -1.95 + 0.1 * np.arange(40)
    ys = -0.95 + 0.1 * np.arange(20)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    return np.stack([gx.ravel(), gy.ravel(), np.full(gx.size, z)], -1)


def test_two_translated_cameras_overlap_as_computed_by_hand():
    # Markers 1 cm in front of a wall at 2.01 m. Camera 1 at x = 0 sees x in [-1, 1), camera 2 at
    # x = 0.5 sees x in [-0.5, 1.5): 20 grid columns each, 15 shared, 25 in the union -> 0.6,
    # the continuous (w - b) / (w + b) = (2 - 0.5) / (2 + 0.5).
    pts = grid_on_plane(2.0)
    cams = np.stack([camera_at(0.0), camera_at(0.5)])
    vis = visible_points(pts, K, cams, np.stack([wall_depth(2.01)] * 2), W, H)
    x = pts[:, 0]
    np.testing.assert_array_equal(vis[:, 0], (x >= -1) & (x < 1))
    np.testing.assert_array_equal(vis[:, 1], (x >= -0.5) & (x < 1.5))
    assert overlap_ratio(vis[:, 0], vis[:, 1]) == 15 / 25
    m = pairwise_overlap(vis)
    np.testing.assert_array_equal(m, [[1.0, 0.6], [0.6, 1.0]])


def test_eq3_strict_depth_test_occlusion_behind_and_invalid_depth():
    depth = wall_depth(2.0)
    depth[:, :10] = 0.0  # invalid depth on the left tenth of the image (u < 10, x < -0.8 at 2 m)
    pts = np.array([
        [0.0, 0.0, 1.5],    # in front of the wall: visible
        [0.0, 0.0, 2.5],    # behind the wall: occluded
        [0.0, 0.0, 2.0],    # exactly on the wall: z < D fails (strict, no tolerance)
        [0.0, 0.0, -1.0],   # behind the camera
        [-0.9, 0.0, 1.8],   # u = 100 * -0.9 / 1.8 + 50 = 0: inside, but depth is invalid there
        [0.505, 0.0, 1.0],  # u = 100.5: outside the image
        [0.5, 0.0, 1.0],    # u = 100 * 0.5 + 50 = 100: outside
        [0.49, 0.49, 1.0],  # u = v = 99: last pixel, visible
    ])
    vis = visible_points(pts, K, camera_at(0.0)[None], depth[None], W, H)[:, 0]
    np.testing.assert_array_equal(vis, [True, False, False, False, False, False, False, True])
    tol = visible_points(pts, K, camera_at(0.0)[None], depth[None], W, H, tolerance=0.01)[:, 0]
    assert tol[2] and not tol[1]  # the tolerance admits the surface point, not the occluded one


def test_mismatched_shapes_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="depth"):
        visible_points(np.zeros((3, 3)), K, np.stack([np.eye(4)] * 2), np.ones((3, H, W)), W, H)
    with pytest.raises(ValueError, match="points_world"):
        visible_points(np.zeros((3, 2)), K, np.eye(4)[None], np.ones((1, H, W)), W, H)


def test_depth_map_at_another_resolution_is_rescaled():
    # A 10 x 10 depth map for a 100 x 100 image: depth cell (r, c) covers pixels [10c, 10c + 10).
    depth = np.arange(100, dtype=float).reshape(10, 10) + 1.0
    uv = np.array([[0.0, 0.0], [9.99, 9.99], [10.0, 0.0], [99.5, 45.2], [100.0, 5.0]])
    np.testing.assert_array_equal(depth_at(depth, uv, W, H)[:4], [1.0, 1.0, 2.0, 4 * 10 + 9 + 1.0])
    assert np.isnan(depth_at(depth, uv, W, H)[4])


@settings(max_examples=40, deadline=None)
@given(rigid_transforms(scale=3.0))
def test_visibility_invariant_under_a_rigid_change_of_world(world):
    rng = np.random.default_rng(1)
    pts = rng.uniform([-2, -2, 1], [2, 2, 4], (200, 3))
    cams = np.stack([camera_at(0.0), camera_at(0.4, 0.1)])
    depth = rng.uniform(1.0, 4.0, (2, H, W))
    vis = visible_points(pts, K, cams, depth, W, H)
    moved = visible_points(pts @ world[:3, :3].T + world[:3, 3], K, world @ cams, depth, W, H)
    # Points within 1e-9 of a pixel border or of the depth could flip by rounding: none here.
    np.testing.assert_array_equal(vis, moved)


@given(st.integers(1, 60), st.integers(1, 8), st.integers(0, 10_000))
def test_pairwise_overlap_matches_pair_by_pair_iou(n, t, seed):
    vis = np.random.default_rng(seed).random((n, t)) < 0.4
    m = pairwise_overlap(vis)
    for i in range(t):
        for j in range(t):
            assert m[i, j] == overlap_ratio(vis[:, i], vis[:, j])
    np.testing.assert_array_equal(m, m.T)


@given(st.lists(st.booleans(), min_size=1, max_size=50), st.data())
def test_overlap_ratio_is_symmetric_iou_in_unit_range(a, data):
    b = data.draw(st.lists(st.booleans(), min_size=len(a), max_size=len(a)))
    a, b = np.array(a), np.array(b)
    r = overlap_ratio(a, b)
    assert 0.0 <= r <= 1.0 and r == overlap_ratio(b, a)
    if a.any():
        assert overlap_ratio(a, a) == 1.0
    assert overlap_ratio(a, ~a) == 0.0
    assert pairwise_overlap(np.zeros((5, 2), bool))[0, 1] == 0.0
