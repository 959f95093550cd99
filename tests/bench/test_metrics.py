"""Metrics: definitions checked on hand-computed cases and by properties (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.bench import metrics as M

finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, allow_infinity=False)
nonzero = finite.filter(lambda x: abs(x) > 1e-3)


def test_accuracy_and_chance_adjustment():
    assert M.accuracy(np.array([1, 0, 1, 1])) == 0.75
    assert np.isnan(M.accuracy(np.array([])))
    assert M.chance_adjusted_accuracy(0.25, 0.25) == 0.0
    assert M.chance_adjusted_accuracy(1.0, 0.25) == 1.0
    assert M.chance_adjusted_accuracy(0.625, 0.25) == pytest.approx(0.5)
    assert M.chance_adjusted_accuracy(0.0, 0.5) == -1.0
    assert np.isnan(M.chance_adjusted_accuracy(0.5, 1.0))


def test_mra_hand_computed():
    assert len(M.MRA_THRESHOLDS) == 10 and M.MRA_THRESHOLDS[0] == 0.5 and M.MRA_THRESHOLDS[-1] == 0.95
    # relative error 0.12 is below 1 - theta for theta in {0.50..0.85} (8 of 10 thresholds)
    mra = M.mean_relative_accuracy(np.array([11.2, 10.0, 30.0, np.nan]), np.array([10.0, 10.0, 10.0, 10.0]))
    assert mra == pytest.approx([0.8, 1.0, 0.0, 0.0])
    # exactly on a boundary: relative error 0.5 is not < 1 - 0.5
    assert M.mean_relative_accuracy(np.array([15.0]), np.array([10.0]))[0] == 0.0


@given(gt=nonzero, pred=finite)
def test_mra_in_unit_interval_and_oracle_is_one(gt, pred):
    v = M.mean_relative_accuracy(np.array([pred]), np.array([gt]))[0]
    assert 0.0 <= v <= 1.0
    assert M.mean_relative_accuracy(np.array([gt]), np.array([gt]))[0] == 1.0


@given(gt=nonzero, e1=st.floats(0, 2), e2=st.floats(0, 2))
def test_mra_monotone_in_relative_error(gt, e1, e2):
    lo, hi = sorted([e1, e2])
    near = M.mean_relative_accuracy(np.array([gt * (1 + lo)]), np.array([gt]))[0]
    far = M.mean_relative_accuracy(np.array([gt * (1 + hi)]), np.array([gt]))[0]
    assert near >= far


def test_relative_l2_and_pixel_criteria():
    gt = np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]])
    pred = np.array([[1.19, 0.0, 0.0], [0.0, 2.5, 0.0]])
    assert M.relative_l2_within(pred, gt).tolist() == [True, False]
    assert M.relative_l2_within(np.array([100.0, 130.0, np.nan]), np.array([120.0, 100.0, 1.0])).tolist() == [True, False, False]
    # 5% of a 640 px wide image is 32 px
    ok = M.pixel_within(np.array([[100.0, 100.0], [100.0, 100.0]]), np.array([[131.0, 100.0], [100.0, 133.0]]), np.array([640.0, 640.0]))
    assert ok.tolist() == [True, False]


@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=20))
def test_oracle_vectors_are_all_correct(vs):
    v = np.array(vs)
    assert M.relative_l2_within(v, v).all()
    assert M.accuracy(M.relative_l2_within(v, v)) == 1.0


def test_tapvid_hand_computed():
    gt = np.array([[[10.0, 10.0], [20.0, 20.0], [30.0, 30.0], [0.0, 0.0]]])
    gt_occ = np.array([[False, False, False, True]])
    # errors at 256 px: 0, 3, 20 px on the three visible frames; the occluded frame predicted occluded
    pred = np.array([[[10.0, 10.0], [23.0, 20.0], [50.0, 30.0], [5.0, 5.0]]])
    pred_occ = np.array([[False, False, False, True]])
    r = M.tapvid_metrics(pred, pred_occ, gt, gt_occ, image_size=(256, 256))
    assert r["occlusion_accuracy"][0] == 1.0
    assert [r[f"pts_within_{t}"][0] for t in (1, 2, 4, 8, 16)] == pytest.approx([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3])
    assert r["average_pts_within_thresh"][0] == pytest.approx(np.mean([1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3]))
    # Jaccard at 1 px: tp 1, visible 3, false positives 2 (two predicted-visible misses) -> 1/5
    assert r["jaccard_1"][0] == pytest.approx(1 / 5)
    assert r["jaccard_16"][0] == pytest.approx(2 / 4)


def test_tapvid_non_square_images_scale_x_by_width_and_y_by_height():
    # image_size is (H, W) = (128, 512): x is scaled by 256/512 = 0.5, y by 256/128 = 2
    gt = np.array([[[100.0, 50.0], [100.0, 50.0], [100.0, 50.0]]])
    occ = np.zeros((1, 3), dtype=bool)
    pred = np.array([[[112.0, 50.0],    # 12 px along x -> 6 px at 256
                      [100.0, 53.0],    # 3 px along y  -> 6 px at 256
                      [106.0, 51.5]]])  # (6, 1.5) -> (3, 3): 4.24 px at 256
    r = M.tapvid_metrics(pred, occ, gt, occ, image_size=(128, 512))
    assert r["pts_within_4"][0] == pytest.approx(0.0)
    assert r["pts_within_8"][0] == pytest.approx(1.0)
    assert r["pts_within_16"][0] == pytest.approx(1.0)
    # the same pixels in a (512, 128) image: x errors grow (x 2), y errors shrink (x 0.5)
    r = M.tapvid_metrics(pred, occ, gt, occ, image_size=(512, 128))
    # errors at 256: 24 px (x), 1.5 px (y), hypot(12, 0.75) = 12.02 px
    assert [r[f"pts_within_{t}"][0] for t in (1, 2, 4, 8, 16)] == pytest.approx([0, 1 / 3, 1 / 3, 1 / 3, 2 / 3])


def test_tapvid_rescales_to_256_and_respects_the_evaluation_mask():
    gt = np.array([[[0.0, 0.0], [100.0, 100.0]]])
    occ = np.zeros((1, 2), dtype=bool)
    pred = np.array([[[0.0, 0.0], [106.0, 100.0]]])  # 6 px off in a 512 px image = 3 px at 256
    r = M.tapvid_metrics(pred, occ, gt, occ, image_size=(512, 512))
    assert r["pts_within_2"][0] == 0.5 and r["pts_within_4"][0] == 1.0
    r = M.tapvid_metrics(pred, occ, gt, occ, image_size=(512, 512), evaluation_mask=np.array([[False, True]]))
    assert r["pts_within_2"][0] == 0.0 and r["pts_within_4"][0] == 1.0


@settings(max_examples=30)
@given(st.integers(2, 12), st.integers(0, 2**31 - 1))
def test_tapvid_oracle_is_perfect(t, seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 300, size=(3, t, 2))
    occ = rng.random((3, t)) < 0.3
    occ[:, 0] = False  # at least one visible point per track
    r = M.tapvid_metrics(gt, occ, gt, occ, image_size=(300, 300))
    assert np.allclose(r["average_jaccard"], 1.0)
    assert np.allclose(r["occlusion_accuracy"], 1.0)
    assert np.allclose(r["average_pts_within_thresh"], 1.0)


def test_bootstrap_is_seeded_and_brackets_the_mean():
    s = np.random.default_rng(1).random(500) < 0.6
    a = M.bootstrap_ci(s, seed=3)
    assert a == M.bootstrap_ci(s, seed=3)
    assert a != M.bootstrap_ci(s, seed=4)
    assert a[0] < s.mean() < a[1]
    assert 0.05 < a[1] - a[0] < 0.12  # ~ 2 * 1.96 * sqrt(.24 / 500) = 0.086
    assert M.bootstrap_ci(np.ones(10)) == (1.0, 1.0)
    assert all(np.isnan(M.bootstrap_ci(np.array([]))))
