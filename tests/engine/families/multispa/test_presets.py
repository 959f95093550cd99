"""The multispa presets and the bench cap they use."""

from __future__ import annotations

from collections import Counter

import numpy as np

from qa4d.engine.options import cap_balanced
from qa4d.engine.presets import load_preset
from qa4d.engine.registry import thresholds_for


def cands(spec: dict[str, int]) -> list[dict]:
    return [{"uid": f"{k}{i:03d}", "key": k} for k, n in spec.items() for i in range(n)]


def test_cap_keeps_labels_balanced_and_is_seeded():
    c = cands({"left": 10, "right": 4, "up": 7})
    kept = cap_balanced(c, 9, np.random.default_rng(0))
    assert Counter(x["key"] for x in kept) == {"left": 3, "right": 3, "up": 3}
    kept = cap_balanced(c, 13, np.random.default_rng(0))
    assert Counter(x["key"] for x in kept) == {"left": 5, "right": 4, "up": 4} or \
        Counter(x["key"] for x in kept) == {"left": 4, "right": 4, "up": 5}
    assert len(cap_balanced(c, 100, np.random.default_rng(0))) == 21
    a = [x["uid"] for x in cap_balanced(c, 9, np.random.default_rng(5))]
    assert a == [x["uid"] for x in cap_balanced(c, 9, np.random.default_rng(5))] == sorted(a)


def test_paper_preset_removes_every_dead_band():
    s = load_preset("multispa-paper")
    assert s["families"] == ["multispa"] and s["bench_max_per_task"] == 300
    th = thresholds_for("multispa", "sim", s["thresholds"])
    assert th.direction_dead_band_m == 0 and th.direction_dead_band_deg == 0 and th.depth_compare_rel == 0
    assert list(th.move_dead_band_m) == [0.0, 0.0] and (th.overlap_min, th.overlap_max) == (6.0, 35.0)
    default = thresholds_for("multispa", "scannet")
    assert default.direction_dead_band_m > 0 and default.overlap_max == 35.0
    assert load_preset("multispa-bench") == {"families": ["multispa"], "bench_max_per_task": 300}
