import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.geometry import overlap_bins, sample_balanced_pairs
from qa4d.geometry.pairs import bin_quotas, overlap_edges


def test_bins_are_right_closed_with_the_lowest_edge_included():
    edges = overlap_edges()  # 6, 7, ..., 35: 29 bins
    assert len(edges) == 30 and edges[0] == 6 and edges[-1] == 35
    x = np.array([6.0, 6.5, 7.0, 7.0001, 34.5, 35.0, 35.0001, 5.999, 0.0, np.nan, 100.0])
    np.testing.assert_array_equal(overlap_bins(x, edges), [0, 0, 0, 1, 28, 28, -1, -1, -1, -1, -1])


def test_quotas_give_the_remainder_to_the_first_bins():
    np.testing.assert_array_equal(bin_quotas(10, 4), [3, 3, 2, 2])
    np.testing.assert_array_equal(bin_quotas(2, 4), [1, 1, 0, 0])


def _overlaps(counts: dict[float, int]) -> np.ndarray:
    return np.concatenate([np.full(n, v) for v, n in counts.items()])


def test_listing1_by_hand_non_empty_bins_only():
    # Bins (in overlap order): [6,7] 1 pair, (10,11] 5 pairs, (20,21] 20 pairs; 3 zero-overlap
    # pairs and 2 outside [6, 35]. total 12 over N = 3 bins -> quotas 4, 4, 4.
    # Visit by size: the 1-pair bin takes 1 (leftover 3); the 5-pair bin has quota 4 + 3 = 7 and
    # is taken whole (leftover 2); the 20-pair bin samples 4 + 2 = 6. Total 12.
    x = _overlaps({6.5: 1, 10.5: 5, 20.5: 20, 0.0: 3, 3.0: 1, 50.0: 1})
    s = sample_balanced_pairs(x, 12, np.random.default_rng(0), count_empty_bins=False)
    got = {b: int(np.count_nonzero(s.bins == b)) for b in np.unique(s.bins)}
    assert got == {0: 1, 4: 5, 14: 6}
    assert s.leftover == 0 and len(s.indices) == 12
    np.testing.assert_array_equal(overlap_bins(x[s.indices], overlap_edges()), s.bins)


def test_listing1_counting_empty_bins_as_pandas_does():
    # Same pairs, N = 29 bins: quota 12 // 29 = 0, the first 12 bins (6..18) get 1. The 26 empty
    # bins come first (size 0) and pass on 1 + 1 + 1 ... of those among the first 12 (10 of them:
    # all of 6..18 except [6,7] and (10,11]). [6,7]: current = 10 + 1 = 11 >= 1, taken, leftover
    # 10; (10,11]: 1 + 10 = 11 >= 5, taken, leftover 6; (20,21]: 0 + 6 = 6 sampled. Total 12.
    x = _overlaps({6.5: 1, 10.5: 5, 20.5: 20, 0.0: 3})
    s = sample_balanced_pairs(x, 12, np.random.default_rng(0), count_empty_bins=True)
    got = {b: int(np.count_nonzero(s.bins == b)) for b in np.unique(s.bins)}
    assert got == {0: 1, 4: 5, 14: 6} and s.leftover == 0


def test_leftover_reported_and_zero_overlap_pool():
    x = _overlaps({6.5: 2, 30.5: 3, 0.0: 5})
    s = sample_balanced_pairs(x, 100, np.random.default_rng(1), non_overlap_samples=2)
    assert s.leftover == 95
    assert np.count_nonzero(s.bins == -1) == 2 and np.all(x[s.indices[s.bins == -1]] == 0)
    assert len(np.unique(s.indices)) == len(s.indices) == 7
    none = sample_balanced_pairs(np.zeros(4), 10, np.random.default_rng(1))
    assert len(none.indices) == 0 and none.leftover == 10


def test_sampling_is_deterministic_under_a_seeded_generator():
    x = np.random.default_rng(3).uniform(0, 40, 2000)
    a = sample_balanced_pairs(x, 300, np.random.default_rng(7))
    b = sample_balanced_pairs(x, 300, np.random.default_rng(7))
    c = sample_balanced_pairs(x, 300, np.random.default_rng(8))
    np.testing.assert_array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, c.indices)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 60), min_size=29, max_size=29), st.integers(0, 600), st.booleans())
def test_balance_properties(sizes, total, count_empty):
    # Bin b holds sizes[b] pairs at overlap 6.5 + b.
    x = np.concatenate([np.full(n, 6.5 + b) for b, n in enumerate(sizes)] + [np.zeros(0)])
    s = sample_balanced_pairs(x, total, np.random.default_rng(0), count_empty_bins=count_empty)
    got = np.bincount(s.bins, minlength=29) if len(s.bins) else np.zeros(29, int)
    available = int(np.sum(sizes))
    assert len(s.indices) == min(total, available)
    assert s.leftover == total - len(s.indices)
    assert np.all(got <= sizes)
    # Balance: a bin that was not exhausted got at least as many as any other bin's quota share
    # floor(total / N), and bins are never starved in favour of a larger one.
    n_bins = 29 if count_empty else max(1, np.count_nonzero(sizes))
    partial = got < np.array(sizes)
    if partial.any():
        assert got[partial].min() >= total // n_bins
    assert len(np.unique(s.indices)) == len(s.indices)


@pytest.mark.parametrize("count_empty", [False, True])
def test_equal_bins_split_evenly(count_empty):
    x = np.repeat(6.5 + np.arange(29), 100)
    s = sample_balanced_pairs(x, 290, np.random.default_rng(0), count_empty_bins=count_empty)
    np.testing.assert_array_equal(np.bincount(s.bins, minlength=29), np.full(29, 10))
