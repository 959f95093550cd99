import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import distinct_colours, metres_to_mm, normalise_pixels, pixels_from_normalised, to_int
from qa4d.geometry.pixels import PALETTE, colour_distance, random_distractors

from .strategies import finite


def test_eq1_floor_and_the_codes_round():
    # 640 x 480 image: x = 639.9 -> 999.84 (floor 999, round 1000); y = 240 -> 500 exactly.
    uv = np.array([[0.0, 0.0], [639.9, 240.0], [320.3, 479.99], [1.0, 0.7]])
    np.testing.assert_array_equal(normalise_pixels(uv, 640, 480), [[0, 0], [999, 500], [500, 999], [1, 1]])
    np.testing.assert_array_equal(normalise_pixels(uv, 640, 480, "nearest"), [[0, 0], [1000, 500], [500, 1000], [2, 1]])
    with pytest.raises(ValueError):
        normalise_pixels(uv, 640, 480, "ceil")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4000), st.integers(1, 4000), st.floats(0, 1, exclude_max=True, **finite),
       st.floats(0, 1, exclude_max=True, **finite))
def test_floor_scale_stays_in_0_999_and_round_trips(w, h, fx, fy):
    uv = np.array([fx * w, fy * h])
    q = normalise_pixels(uv, w, h)
    assert np.all((q >= 0) & (q <= 999))
    np.testing.assert_array_equal(normalise_pixels(pixels_from_normalised(q, w, h), w, h), q)
    back = pixels_from_normalised(q, w, h)
    assert np.all(np.abs(back - uv) <= np.array([w, h]) / 1000.0)  # within one cell


def test_integer_roundings():
    v = np.array([2.5, 3.5, -2.5, 61.9, -61.9])
    np.testing.assert_array_equal(to_int(v), [2, 4, -2, 62, -62])  # half to even, as Python's round
    np.testing.assert_array_equal(to_int(v, "truncate"), [2, 3, -2, 61, -61])  # as int()
    np.testing.assert_array_equal(to_int(v, "floor"), [2, 3, -3, 61, -62])
    assert [round(x) for x in v] == to_int(v).tolist()
    np.testing.assert_array_equal(metres_to_mm([2.2494, 2.2496, 1.1589]), [2249, 2250, 1159])
    np.testing.assert_array_equal(metres_to_mm([1.1589], "truncate"), [1158])
    with pytest.raises(ValueError):
        to_int(v, "up")


def test_colours_keep_the_l1_rule_or_fall_back_to_the_palette():
    for seed in range(50):
        rng = np.random.default_rng(seed)
        c = distinct_colours(4, rng)
        assert c.shape == (4, 3) and np.all((c >= 0) & (c <= 255))
        palette = {tuple(p) for p in PALETTE}
        drawn = [tuple(x) for x in c if tuple(x) not in palette]
        for i in range(len(drawn)):
            for j in range(i + 1, len(drawn)):
                assert colour_distance(drawn[i], drawn[j]) > 300
        assert len({tuple(x) for x in c if tuple(x) in palette}) == sum(tuple(x) in palette for x in c)
    # max_tries = 0 forces the fallback: all n from the palette, no repeats.
    fb = distinct_colours(5, np.random.default_rng(0), max_tries=0)
    assert {tuple(x) for x in fb} == set(PALETTE)
    with pytest.raises(ValueError):
        distinct_colours(6, np.random.default_rng(0), max_tries=0)
    np.testing.assert_array_equal(distinct_colours(3, np.random.default_rng(9)), distinct_colours(3, np.random.default_rng(9)))
    assert colour_distance([255, 0, 0], [0, 0, 255]) == 510


def test_distractors_are_uniform_pixels_away_from_the_answer():
    rng = np.random.default_rng(0)
    d = random_distractors([5, 5], 3000, 40, 30, rng)
    assert d.min() >= 0 and d[:, 0].max() == 30 and d[:, 1].max() == 20  # W - 10, H - 10 inclusive
    assert not np.any(np.all(d == [5, 5], axis=1))
    # A 2 x 2 grid of possible pixels (margin leaves x, y in {0, 1}) minus the answer: 3 choices.
    small = random_distractors([0, 0], 300, 11, 11, rng)
    assert {tuple(p) for p in small} == {(0, 1), (1, 0), (1, 1)}
    far = random_distractors([20, 15], 3, 40, 30, rng, min_distance=8.0)
    pts = np.vstack([[20, 15], far])
    dist = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1))
    assert dist[np.triu_indices(4, 1)].min() >= 8.0
    with pytest.raises(ValueError):
        random_distractors([0, 0], 2, 11, 11, rng, min_distance=5.0, max_draws=200)
