"""The NumPy distance transform against shapes whose distances are known in closed form and
against a brute force over every (pixel, background pixel) pair."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qa4d.geometry.distance_transform import deepest_pixel, squared_edt


def brute_force(mask: np.ndarray) -> np.ndarray:
    """min over background pixels of the squared distance, for every pixel (0 on background)."""
    h, w = mask.shape
    bg = np.argwhere(~mask)
    ii, jj = np.mgrid[0:h, 0:w]
    d2 = (ii[..., None] - bg[:, 0]) ** 2 + (jj[..., None] - bg[:, 1]) ** 2
    return d2.min(axis=-1)


def test_a_single_background_pixel_gives_the_squared_distance_to_it():
    h, w, k, l = 9, 13, 2, 10
    mask = np.ones((h, w), bool)
    mask[k, l] = False
    ii, jj = np.mgrid[0:h, 0:w]
    np.testing.assert_array_equal(squared_edt(mask), (ii - k) ** 2 + (jj - l) ** 2)


@pytest.mark.parametrize("a,b", [(1, 1), (5, 9), (12, 4), (7, 7)])
def test_a_rectangle_inside_a_ring_is_its_distance_to_the_nearest_side(a, b):
    """An a x b block surrounded by background: the nearest background pixel lies straight across
    the nearest side, so d2 = min(i + 1, a - i, j + 1, b - j)**2 for block pixel (i, j)."""
    mask = np.zeros((a + 2, b + 2), bool)
    mask[1:-1, 1:-1] = True
    ii, jj = np.mgrid[0:a, 0:b]
    expected = np.minimum(np.minimum(ii + 1, a - ii), np.minimum(jj + 1, b - jj)) ** 2
    got = squared_edt(mask)
    np.testing.assert_array_equal(got[1:-1, 1:-1], expected)
    assert not got[0].any() and not got[-1].any() and not got[:, 0].any() and not got[:, -1].any()


def test_a_disc_peaks_at_its_centre():
    """A digital disc of radius r around (c, c), background outside: the nearest background
    pixel to the centre is the nearest integer offset (a, b) with a^2 + b^2 > r^2, so the centre's
    value is the smallest sum of two squares above r^2 (37 for r = 6: offset (6, 1)), and no other
    pixel is as deep."""
    r, c = 6, 10
    ii, jj = np.mgrid[0:2 * c + 1, 0:2 * c + 1]
    mask = (ii - c) ** 2 + (jj - c) ** 2 <= r * r
    d2 = squared_edt(mask)
    assert d2[c, c] == min(a * a + b * b for a in range(r + 2) for b in range(r + 2) if a * a + b * b > r * r) == 37
    assert (d2 < d2[c, c]).sum() == d2.size - 1
    assert deepest_pixel(mask) == (c, c)


def test_no_background_and_empty_inputs():
    assert (squared_edt(np.ones((3, 4), bool)) == -1).all()
    assert squared_edt(np.zeros((0, 5), bool)).shape == (0, 5)
    assert (squared_edt(np.zeros((3, 4), bool)) == 0).all()
    with pytest.raises(ValueError, match="empty"):
        deepest_pixel(np.zeros((3, 4), bool))
    with pytest.raises(ValueError, match="shape"):
        squared_edt(np.zeros((2, 2, 2), bool))


@settings(max_examples=150, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 17), st.integers(1, 23)), elements=st.booleans()))
def test_equals_the_brute_force_on_any_mask(mask):
    if mask.all():
        mask = mask.copy()
        mask[0, 0] = False
    np.testing.assert_array_equal(squared_edt(mask), brute_force(mask))
    np.testing.assert_array_equal(squared_edt(mask.T), brute_force(mask).T)  # both pass orders


@settings(max_examples=100, deadline=None)
@given(arrays(bool, st.tuples(st.integers(1, 15), st.integers(1, 15)), elements=st.booleans()))
def test_deepest_pixel_is_the_first_deepest_in_raster_order_the_border_counting_as_outside(mask):
    if not mask.any():
        mask = mask.copy()
        mask[-1, -1] = True
    d2 = brute_force(np.pad(mask, 1))[1:-1, 1:-1]  # the ring past the border is background
    expected = np.unravel_index(int(np.argmax(d2)), d2.shape)
    assert deepest_pixel(mask) == (int(expected[0]), int(expected[1]))
    assert mask[deepest_pixel(mask)]


def test_long_masks_are_cut_into_blocks_with_the_same_result():
    """Tall masks run the second pass in blocks of rows; a wide one is transposed first."""
    rng = np.random.default_rng(5)
    mask = rng.random((300, 70)) < 0.97
    np.testing.assert_array_equal(squared_edt(mask), brute_force(mask))
    np.testing.assert_array_equal(squared_edt(mask.T), brute_force(mask.T))
