"""The generic kinds for numeric, correspondence and image-set questions, on inputs whose answer
is known in closed form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qa4d.engine.kinds.correspondence import CorrespondenceTask
from qa4d.engine.kinds.imageset import image_sets
from qa4d.engine.kinds.numeric import NumericTask, format_value, round_value


def test_round_and_format_values():
    assert round_value(1249.5001, 0) == 1250 and round_value([1.26, -0.04], 1) == [1.3, -0.0]
    assert format_value([12, -3, 40]) == "[12, -3, 40]" and format_value(7) == "7"
    with pytest.raises(ValueError):
        round_value(float("nan"), 0)


def test_numeric_subclass_must_use_a_numeric_format():
    with pytest.raises(TypeError):
        type("Bad", (NumericTask,), {"answer_format": "mc"})
    vec = type("Vec", (NumericTask,), {"answer_format": "vector"})
    assert vec.train_formats == vec.bench_formats == ("vector",)


def test_image_set_search_finds_exactly_the_sets_satisfying_the_predicate():
    frames = range(10, 20)

    def ok(s):
        return (s[1] - s[0]) >= 6 and s[0] % 2 == 0

    want = {s for s in itertools.combinations(range(10, 20), 2) if ok(s)}
    assert want == {(10, 16), (10, 17), (10, 18), (10, 19), (12, 18), (12, 19)}
    got = image_sets(frames, 2, ok, np.random.default_rng(0), limit=100)
    assert set(got) == want and len(got) == len(want)
    one = image_sets(frames, 2, ok, np.random.default_rng(3), limit=1)
    assert len(one) == 1 and one[0] in want
    assert image_sets(frames, 2, lambda s: False, np.random.default_rng(0)) == []


class _Corr(CorrespondenceTask):
    family, name = "test", "corr"

    def locate(self, scene, item, thresholds):
        # a camera translating right by dx pixels per frame (in per mille): the point moves left
        x, y = item["point"]
        dt = item["frames"][1] - item["frames"][0]
        x2 = x - scene["dx"] * dt
        return [x2, y] if 0 <= x2 < 1000 else None


def _record(task, scene, fmt, answer_value, points=None, answer="A"):
    item = {"frames": [0, 4], "point": [600.0, 300.0]}
    meta = {"item": item, "points": points or [], "value": answer_value}
    return {"answer_format": fmt, "answer": answer, "frame_indices": item["frames"], "meta": meta}


def test_correspondence_answer_is_checked_against_the_geometry():
    task, scene = _Corr(), {"dx": 25.0}
    # 600 - 25 * 4 = 500
    assert task.recompute(_record(task, scene, "coord", None), scene, None)["value"] == [500, 300]
    assert task.check(_record(task, scene, "coord", [500, 300]), scene, None) == []
    assert task.check(_record(task, scene, "coord", [520, 300]), scene, None)
    pts = [{"image": 1, "x": 100, "y": 100, "label": "A"}, {"image": 1, "x": 500, "y": 300, "label": "B"}]
    assert task.check(_record(task, scene, "mc", None, pts, answer="B"), scene, None) == []
    assert task.check(_record(task, scene, "mc", None, pts, answer="A"), scene, None)
    far = {"dx": 200.0}  # 600 - 800 < 0: left the image
    assert task.check(_record(task, far, "coord", [500, 300]), far, None) == ["point is no longer seen in image 2"]


def test_correspondence_distractors_keep_their_distance():
    task = _Corr()
    rng = np.random.default_rng(5)
    for _ in range(20):
        true = [500, 500]
        pts = task.distractors(true, 3, rng)
        allp = [true, *pts]
        d = [np.hypot(a[0] - b[0], a[1] - b[1]) for a, b in itertools.combinations(allp, 2)]
        assert len(pts) == 3 and min(d) >= task.min_separation * task.scale
