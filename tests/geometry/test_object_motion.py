import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import (
    displacement_bins,
    look_at,
    metres_to_mm,
    point_displacement,
    projects_inside,
    sample_displacement_pairs,
)

from .strategies import finite, rotations

# Camera at (1, 2, 1) looking along world +x with z up: camera right = world -y, down = world -z,
# forward = world +x.
CAM = look_at([1.0, 2.0, 1.0], [2.0, 2.0, 1.0])


def test_world_displacement_expressed_in_first_camera_axes():
    p1 = np.array([4.0, 2.0, 1.0])
    cases = {
        (0.0, 0.0, 0.5): [0.0, -0.5, 0.0],    # up in the world = -Y (up) in the camera
        (0.0, -0.3, 0.0): [0.3, 0.0, 0.0],    # world -y = camera right
        (0.2, 0.1, -0.4): [-0.1, 0.4, 0.2],
    }
    for world, cam in cases.items():
        vec, dist, moving = point_displacement(p1, p1 + world, CAM)
        np.testing.assert_allclose(vec, cam, atol=1e-12)
        assert abs(dist - np.linalg.norm(world)) < 1e-12 and moving
    np.testing.assert_array_equal(metres_to_mm(point_displacement(p1, p1 + [0.2, 0.1, -0.4], CAM)[0]), [-100, 400, 200])


def test_under_ten_millimetres_is_no_motion():
    p1 = np.zeros(3)
    vec, dist, moving = point_displacement(p1, [0.0, 0.0, 0.0099], CAM)
    assert not moving and dist == 0.0 and np.all(vec == 0.0)
    vec, dist, moving = point_displacement(p1, [0.0, 0.0, 0.0101], CAM)
    assert moving and abs(dist - 0.0101) < 1e-15 and np.linalg.norm(vec) > 0.01


@settings(max_examples=50, deadline=None)
@given(rotations(), st.lists(st.floats(-5, 5, **finite), min_size=3, max_size=3),
       st.lists(st.floats(-1, 1, **finite), min_size=3, max_size=3))
def test_vector_is_a_rotation_of_the_world_displacement(rot, where, delta):
    cam = np.eye(4)
    cam[:3, :3] = rot
    cam[:3, 3] = where
    p1 = np.array([0.3, -0.2, 0.1])
    vec, dist, moving = point_displacement(p1, p1 + delta, cam)
    if moving:
        np.testing.assert_allclose(rot @ vec, delta, atol=1e-9)  # back to world axes
        assert abs(np.linalg.norm(vec) - dist) < 1e-9
    moved = cam.copy()
    moved[:3, 3] += [10.0, -3.0, 2.0]  # where the camera stands does not matter
    np.testing.assert_allclose(point_displacement(p1, p1 + delta, moved)[0], vec, atol=1e-12)


def test_displacement_bins_equal_width_with_maximum_in_last_bin():
    d = np.array([0.0, 0.99, 1.0, 5.5, 9.99, 10.0])
    np.testing.assert_array_equal(displacement_bins(d), [0, 0, 1, 5, 9, 9])


def test_pair_sampling_balances_bins_capped_by_the_middle_bin():
    # x = 0, 1, ..., 6: the distance of pair (i, j) is j - i (1 to 6 m, 7 - gap pairs each).
    # Bins of width 0.5 over [1, 6]: gap g goes to bin 2 (g - 1); the middle bin 4 holds the 4
    # pairs of gap 3, so the cap is min(4, pairs_per_bin).
    track = np.zeros((7, 3))
    track[:, 0] = np.arange(7)
    rng = np.random.default_rng(0)
    pairs = sample_displacement_pairs(track, np.ones(7, bool), rng, pairs_per_bin=30)
    gaps = pairs[:, 1] - pairs[:, 0]
    assert np.all(gaps > 0)
    np.testing.assert_array_equal(np.bincount(gaps, minlength=7)[1:], [4, 4, 4, 3, 2, 1])
    pairs = sample_displacement_pairs(track, np.ones(7, bool), rng, pairs_per_bin=1)
    np.testing.assert_array_equal(np.sort(pairs[:, 1] - pairs[:, 0]), [1, 2, 3, 4, 5, 6])


def test_static_point_gives_one_pair_and_invisible_frames_are_skipped():
    track = np.tile([[1.0, 2.0, 3.0]], (6, 1))
    visible = np.array([True, True, False, True, True, True])
    pairs = sample_displacement_pairs(track, visible, np.random.default_rng(0))
    assert pairs.shape == (1, 2) and 2 not in pairs
    assert len(sample_displacement_pairs(track, np.eye(6, dtype=bool)[0], np.random.default_rng(0))) == 0


def test_projects_inside_both_images():
    k = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
    cam = np.eye(4)
    pts = np.array([[0.0, 0.0, 1.0], [0.5, 0.0, 1.0], [-0.5, -0.5, 1.0], [0.0, 0.0, -1.0]])
    np.testing.assert_array_equal(projects_inside(pts, k, cam, 100, 100), [True, False, True, False])
