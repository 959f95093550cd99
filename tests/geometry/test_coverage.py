import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import (
    box_extents,
    covering_pairs,
    covers,
    image_extents,
    minimal_covering_sets,
    object_size,
    set_coverage,
    visible_points,
)
from qa4d.geometry.coverage import brute_force_minimal_sets, single_coverage

from .strategies import finite


def test_box_of_known_size_gives_its_extents_and_axes():
    rng = np.random.default_rng(0)
    corners = np.array([[x, y, z] for x in (0.0, 0.4) for y in (0.0, 1.2) for z in (0.0, 0.8)])
    inside = rng.uniform([0, 0, 0], [0.4, 1.2, 0.8], (50, 3))
    pts = np.concatenate([corners, inside]) + [2.0, -1.0, 0.3]
    np.testing.assert_allclose(box_extents(pts), [0.4, 1.2, 0.8], atol=1e-12)
    size = object_size(box_extents(pts))
    assert (size.height, size.width, size.length) == pytest.approx((0.8, 0.4, 1.2), abs=1e-12)
    assert (size.height_axis, size.width_axis, size.length_axis) == (2, 0, 1)
    turned = object_size(box_extents(pts[:, [1, 0, 2]]))  # the same box turned 90 degrees
    assert (turned.width, turned.length, turned.width_axis, turned.length_axis) == pytest.approx((0.4, 1.2, 1, 0))
    square = object_size([0.5, 0.5, 1.0])
    assert (square.width_axis, square.length_axis) == (1, 0)


def pole_case():
    """A 2 m pole (points at z = 0, 0.01, ..., 2) seen by 5 images over known z ranges."""
    z = np.linspace(0.0, 2.0, 201)
    ranges = [(0.0, 1.2), (0.8, 2.0), (0.5, 1.5), (0.0, 2.0), None]
    vis = np.stack([np.zeros_like(z, bool) if r is None else (z >= r[0] - 1e-9) & (z <= r[1] + 1e-9)
                    for r in ranges], -1)
    return z, vis


def test_extents_and_coverage_of_sets():
    z, vis = pole_case()
    lo, hi = image_extents(z, vis)
    np.testing.assert_allclose(lo[:4], [0.0, 0.8, 0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(hi[:4], [1.2, 2.0, 1.5, 2.0], atol=1e-12)
    assert lo[4] == np.inf and hi[4] == -np.inf
    np.testing.assert_allclose(single_coverage(lo, hi), [1.2, 1.2, 1.0, 2.0, 0.0], atol=1e-12)
    assert set_coverage(lo, hi, (0, 1)) == pytest.approx(2.0)
    assert set_coverage(lo, hi, (2, 4)) == pytest.approx(1.0)
    assert set_coverage(lo, hi, (4,)) == 0.0
    assert covers(1.8, 2.0) and covers(2.19, 2.0) and not covers(1.79, 2.0) and not covers(2.21, 2.0)


def test_only_the_pair_covers_the_pole():
    z, vis = pole_case()
    lo, hi = image_extents(z, vis)
    np.testing.assert_array_equal(covering_pairs(lo, hi, 2.0), [[0, 1]])
    assert minimal_covering_sets(lo, hi, 2.0, max_size=2) == {1: [(3,)], 2: [(0, 1)]}
    assert minimal_covering_sets(lo, hi, 2.0, max_size=4) == {1: [(3,)], 2: [(0, 1)]}


def test_bar_seen_by_rendered_cameras_is_covered_only_by_the_outer_pair():
    # A 2 m bar along world x at depth 2 (markers 1 cm before a wall). Cameras look along +z
    # with f = 100 px, 100 px wide: at depth 2 each sees 2 m of x. Cameras at x = -0.5 and
    # +0.5 see about 1.5 m of the bar each (< 1.8 m, no cover), together all of it; the camera at
    # x = 0 sees x in [-1, 1): 1.99 m, covering alone.
    k = np.array([[100.0, 0, 50], [0, 100.0, 50], [0, 0, 1]])
    cams = np.stack([np.eye(4)] * 3)
    cams[:, 0, 3] = [-0.5, 0.5, 0.0]
    xs = np.linspace(-1.0, 1.0, 201)
    bar = np.stack([xs, np.zeros_like(xs), np.full_like(xs, 2.0)], -1)
    vis = visible_points(bar, k, cams, np.full((3, 100, 100), 2.01), 100, 100)
    lo, hi = image_extents(bar[:, 0], vis)
    # x = 0.5 is just outside camera 0 (u = W), so it sees x in [-1, 0.49].
    np.testing.assert_allclose(single_coverage(lo, hi), [1.49, 1.5, 1.99], atol=1e-9)
    np.testing.assert_array_equal(covering_pairs(lo, hi, 2.0), [[0, 1]])


extents = st.lists(st.tuples(st.floats(0, 10, **finite), st.floats(0, 10, **finite)), min_size=1, max_size=9)


@settings(max_examples=150, deadline=None)
@given(extents, st.floats(0.5, 10, **finite), st.integers(1, 4), st.booleans())
def test_bfs_finds_exactly_the_minimal_sets(pairs, target, max_size, empty_first):
    lo = np.array([min(a, b) for a, b in pairs])
    hi = np.array([max(a, b) for a, b in pairs])
    if empty_first:
        lo[0], hi[0] = np.inf, -np.inf
    got = minimal_covering_sets(lo, hi, target, max_size=max_size)
    want = brute_force_minimal_sets(lo, hi, target, max_size=max_size)
    assert {k: sorted(v) for k, v in got.items()} == want
    if max_size >= 2:
        assert [tuple(p) for p in covering_pairs(lo, hi, target)] == want.get(2, [])
    for combo in got.get(2, []):
        assert covers(set_coverage(lo, hi, combo), target)
        assert not any(covers(set_coverage(lo, hi, (i,)), target) for i in combo)


def test_level_cap_keeps_a_random_subset_deterministically():
    # 12 images each seeing a tiny slice: no set covers, level 2 has 66 sets, capped to 10.
    lo = np.arange(12) * 1.0
    hi = lo + 0.1
    a = minimal_covering_sets(lo, hi, 100.0, max_size=3, level_cap=10, rng=np.random.default_rng(0))
    assert a == {}
    # A covering pair always survives when the cap exceeds the level size.
    lo2, hi2 = np.array([0.0, 1.0, 5.0]), np.array([1.0, 2.0, 6.0])
    assert minimal_covering_sets(lo2, hi2, 2.0, level_cap=5, rng=np.random.default_rng(0)) == {2: [(0, 1)]}
