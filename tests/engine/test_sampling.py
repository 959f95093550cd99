import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.engine.sampling import distinct_tuples, media_indices, rng_for, segment_bounds, split_scenes, weighted_choice


def test_split_is_by_scene_deterministic_and_order_free():
    ids = [f"s{i:03d}" for i in range(50)]
    a = split_scenes(ids, seed=3, bench_fraction=0.2)
    b = split_scenes(list(reversed(ids)), seed=3, bench_fraction=0.2)
    assert a == b
    assert sorted(a) == ids
    assert sum(v == "bench" for v in a.values()) == 10
    c = split_scenes(ids, seed=4, bench_fraction=0.2)
    assert {k for k, v in a.items() if v == "bench"} != {k for k, v in c.items() if v == "bench"}


@pytest.mark.parametrize("n,frac,expect", [(12, 0.2, 2), (2, 0.1, 1), (5, 0.0, 0), (5, 1.0, 5), (5, 0.99, 4), (1, 0.5, 0)])
def test_split_counts(n, frac, expect):
    s = split_scenes([str(i) for i in range(n)], 0, frac)
    assert sum(v == "bench" for v in s.values()) == expect


def test_segments_short_scene_uses_all_frames():
    assert segment_bounds(20, 32, 3, np.random.default_rng(0)) == [(0, 20)]


@given(st.integers(33, 300), st.integers(2, 32), st.integers(1, 5), st.integers(0, 2**31))
@settings(max_examples=50, deadline=None)
def test_segments_in_range_distinct(T, L, k, seed):
    segs = segment_bounds(T, L, k, np.random.default_rng(seed))
    assert 1 <= len(segs) <= k
    assert len(set(segs)) == len(segs)
    for a, b in segs:
        assert b - a == min(L, T) and 0 <= a and b <= T
    assert segs == sorted(segs)


@given(st.integers(0, 100), st.integers(2, 64), st.integers(2, 16))
@settings(max_examples=60, deadline=None)
def test_media_indices_uniform_with_endpoints(start, length, m):
    idx = media_indices(start, start + length, m)
    assert idx[0] == start and idx[-1] == start + length - 1
    assert len(idx) == min(m, length)
    assert all(b > a for a, b in zip(idx, idx[1:]))


def test_rng_for_is_keyed_by_names_not_order():
    a = rng_for(7, "scene1", "depth").integers(1 << 30, size=4)
    _ = rng_for(7, "scene2", "depth").integers(1 << 30, size=4)
    b = rng_for(7, "scene1", "depth").integers(1 << 30, size=4)
    c = rng_for(8, "scene1", "depth").integers(1 << 30, size=4)
    assert (a == b).all() and not (a == c).all()


def test_distinct_tuples_have_distinct_members():
    rng = np.random.default_rng(0)
    out = distinct_tuples(rng, [[1, 2, 3], [1, 2, 3]], 10)
    assert len(out) == 6 and all(a != b for a, b in out) and len(set(out)) == 6
    assert distinct_tuples(rng, [[1], []], 3) == []


def test_weighted_choice_respects_allowed_and_weights():
    rng = np.random.default_rng(0)
    draws = [weighted_choice(rng, {"a": 0.9, "b": 0.1, "c": 0.0}) for _ in range(2000)]
    assert "c" not in draws and 0.85 < draws.count("a") / 2000 < 0.95
    assert weighted_choice(rng, {"a": 1.0}, allowed=["b"]) is None
