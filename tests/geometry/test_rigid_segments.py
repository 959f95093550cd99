import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import groups_of, rigid_body_segmentation
from qa4d.geometry.rigid_segments import distance_change_cost, relabel_by_size

from .strategies import rotations


def two_bodies(n_a: int, n_b: int, t_len: int, spin: np.ndarray, seed: int = 0) -> np.ndarray:
    """Body a static around the origin; body b (centred at x = 3) turns by `spin` (3x3) about
    its own centre and slides 0.3 m further along +x at every step. Returns (n_a + n_b, T, 3)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(-0.5, 0.5, (n_a, 3))
    b = rng.uniform(-0.5, 0.5, (n_b, 3))
    out = np.zeros((n_a + n_b, t_len, 3))
    rot = np.eye(3)
    for t in range(t_len):
        out[:n_a, t] = a
        out[n_a:, t] = b @ rot.T + [3.0 + 0.3 * t, 0.0, 0.0]
        rot = spin @ rot
    return out


def test_cost_is_the_sum_of_distance_changes_above_the_noise_floor():
    # Point 0 fixed at the origin, point 1 on the x axis at 1.0, 1.005, 1.3, 1.3, 1.0;
    # point 2 fixed at (0, 2, 0). Changes of |0-1|: 0.005 (ignored), 0.295, 0, 0.3 -> 0.595.
    # |0-2| never changes. |1-2| = sqrt(4 + x^2): changes computed here by hand.
    xs = np.array([1.0, 1.005, 1.3, 1.3, 1.0])
    tracks = np.zeros((3, 5, 3))
    tracks[1, :, 0] = xs
    tracks[2, :, 1] = 2.0
    d12 = np.sqrt(4 + xs**2)
    steps = np.abs(np.diff(d12))
    cost = distance_change_cost(tracks, noise_floor=0.01)
    assert abs(cost[0] - 0.595) < 1e-12  # pair (0, 1)
    assert cost[1] == 0.0  # pair (0, 2)
    assert abs(cost[2] - steps[steps > 0.01].sum()) < 1e-12  # pair (1, 2)


def test_invalid_steps_add_nothing():
    tracks = np.zeros((2, 3, 3))
    tracks[1, :, 0] = [1.0, 5.0, 9.0]
    valid = np.array([[True, True, True], [True, False, True]])
    assert distance_change_cost(tracks, valid=valid)[0] == 0.0
    tracks[1, 1] = np.nan  # non-finite counts as invalid too
    assert distance_change_cost(tracks)[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(rotations(), st.integers(3, 6), st.integers(6, 12), st.integers(6, 12))
def test_two_rigid_bodies_moving_differently_give_exactly_two_groups(spin, t_len, n_a, n_b):
    tracks = two_bodies(n_a, n_b, t_len, spin, seed=n_a * 31 + n_b)
    labels = rigid_body_segmentation(tracks, min_points=6)
    groups = groups_of(labels)
    assert len(groups) == 2
    assert sorted(map(tuple, groups)) == sorted([tuple(range(n_a)), tuple(range(n_a, n_a + n_b))])


def test_rotating_body_is_one_group_and_small_groups_are_dropped():
    # One body spinning 20 degrees per step about a vertical axis plus 1 stray point moving alone.
    rng = np.random.default_rng(5)
    body = rng.uniform(-0.5, 0.5, (8, 3))
    t_len = 5
    tracks = np.zeros((9, t_len, 3))
    for t in range(t_len):
        a = np.radians(20.0 * t)
        r = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
        tracks[:8, t] = body @ r.T
        tracks[8, t] = [5.0 + 0.5 * t, 0, 0]
    labels = rigid_body_segmentation(tracks, min_points=6)
    np.testing.assert_array_equal(labels, [0] * 8 + [-1])
    assert set(rigid_body_segmentation(tracks).tolist()) == {0, 1}


@settings(max_examples=30, deadline=None)
@given(rotations(), st.integers(0, 1000))
def test_partition_invariant_to_point_order_and_world_rotation(rot, seed):
    tracks = two_bodies(7, 9, 4, np.eye(3), seed=seed % 17)
    perm = np.random.default_rng(seed).permutation(len(tracks))
    base = rigid_body_segmentation(tracks)
    moved = rigid_body_segmentation(tracks[perm] @ rot.T)
    same = lambda lab: {frozenset(np.flatnonzero(lab == g).tolist()) for g in set(lab.tolist())}  # noqa: E731
    assert same(base) == {frozenset(perm[list(s)].tolist()) for s in same(moved)}


def test_relabel_orders_by_size_then_first_index():
    # sizes: id 7 -> {0, 4}, id 3 -> {1, 2}, id 9 -> {3}, id 5 -> {5}; ties by first index.
    np.testing.assert_array_equal(relabel_by_size([7, 3, 3, 9, 7, 5]), [0, 1, 1, 2, 0, 3])
    np.testing.assert_array_equal(relabel_by_size([7, 3, 3, 9, 7, 5], min_points=2), [0, 1, 1, -1, 0, -1])
    assert rigid_body_segmentation(np.zeros((1, 3, 3))).tolist() == [0]
    assert rigid_body_segmentation(np.zeros((1, 3, 3)), min_points=6).tolist() == [-1]
