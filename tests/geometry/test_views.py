import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from qa4d.geometry import overlap_ratio, pairwise_overlap, rigid_body_segmentation

from .strategies import rigid_transforms

bools = st.lists(st.booleans(), min_size=1, max_size=50)


@given(bools, st.data())
def test_overlap_ratio_is_symmetric_iou_in_unit_range(a, data):
    b = data.draw(st.lists(st.booleans(), min_size=len(a), max_size=len(a)))
    a, b = np.array(a), np.array(b)
    r = overlap_ratio(a, b)
    assert 0.0 <= r <= 1.0 and r == overlap_ratio(b, a)
    if a.any():
        assert overlap_ratio(a, a) == 1.0
    assert overlap_ratio(a, ~a) == 0.0


def test_overlap_ratio_known_value_and_matrix():
    vis = np.array([[1, 1], [1, 0], [0, 1], [1, 1]], bool)  # (N=4, T=2)
    assert overlap_ratio(vis[:, 0], vis[:, 1]) == 0.5
    m = pairwise_overlap(vis)
    np.testing.assert_allclose(m, [[1.0, 0.5], [0.5, 1.0]])


@given(rigid_transforms(scale=2.0), st.integers(2, 6), st.integers(3, 10), st.integers(3, 10))
def test_rigid_segmentation_separates_two_bodies(motion, t_len, n_a, n_b):
    rng = np.random.default_rng(n_a * 100 + n_b)
    body_a = rng.uniform(-0.5, 0.5, (n_a, 3))
    body_b = rng.uniform(-0.5, 0.5, (n_b, 3)) + [3.0, 0, 0]
    tracks = np.zeros((n_a + n_b, t_len, 3))
    pose = np.eye(4)
    step = np.eye(4)
    step[:3, 3] = [0.4, 0.0, 0.0]  # body b slides away from body a
    for t in range(t_len):
        tracks[:n_a, t] = body_a @ motion[:3, :3].T + motion[:3, 3]  # a: one fixed rigid placement
        tracks[n_a:, t] = body_b @ pose[:3, :3].T + pose[:3, 3]
        pose = pose @ step
    labels = rigid_body_segmentation(tracks, threshold=0.1)
    assert len(set(labels[:n_a])) == 1 and len(set(labels[n_a:])) == 1
    assert labels[0] != labels[-1]


def test_rigid_segmentation_single_body_and_min_points():
    tracks = np.random.default_rng(0).normal(size=(5, 4, 3))
    tracks[:] = tracks[:, :1]  # all static
    assert set(rigid_body_segmentation(tracks).tolist()) == {0}
    assert set(rigid_body_segmentation(tracks, min_points=6).tolist()) == {-1}
