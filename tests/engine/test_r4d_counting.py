"""r4d counting: how many of three marked objects translate / spin, on a hand-made scene whose
motion is known in closed form (three balls rolling at 0.05 m per frame, two still balls and a
chair spinning in place at 6 degrees per frame), and the record passes the audit's check."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.base import RenderEnv, SceneContext
from qa4d.engine.registry import get_family, get_task
from qa4d.scene import load_scene
from tests.engine.toy import ToyObject, ToyScene, build

FRAMES, SIZE = 12, 160
OBJECTS = [  # id = position + 1; x spread along the view so the marks never overlap
    ToyObject("red", (-2.4, 1.0, 0.4), (0.05, 0.0, 0.0), radius=0.4),
    ToyObject("yellow", (-1.2, 3.0, 0.4), (0.0, 0.05, 0.0), radius=0.4),
    ToyObject("orange", (0.0, 1.0, 0.4), (-0.05, 0.0, 0.0), radius=0.4),
    ToyObject("blue", (1.2, 3.0, 0.4), radius=0.4),
    ToyObject("purple", (2.4, 1.0, 0.4), radius=0.4),
    ToyObject("green", (0.0, 4.5, 0.4), yaw_rate=6.0, radius=0.4, category="chair"),
]
TRANSLATES = {k + 1: any(o.velocity) for k, o in enumerate(OBJECTS)}   # closed form, from the spec
SPINS = {k + 1: o.yaw_rate != 0 for k, o in enumerate(OBJECTS)}


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("r4d_count")
    build(ToyScene("toy_count", OBJECTS, frames=FRAMES, size=SIZE, eye=(0.0, -5.0, 2.5), target=(0.0, 2.0, 0.3)),
          root)
    return load_scene(root / "toy_count")


def records(scene, seeds):
    """Candidates of r4d/counting over several seeds, rendered for every answer position."""
    task = get_task("r4d", "counting")
    th = get_family("r4d").thresholds("sim")
    out = []
    for seed in seeds:
        cfg = GenerateConfig(scenes="-", out="-", seed=seed, segment_frames=FRAMES, media_frames=6)
        ctx = SceneContext(scene=scene, config=cfg, thresholds=th, family="r4d")
        for cand in task.candidates(ctx):
            env = RenderEnv(scene_meta=scene.meta, config=cfg, pool={})
            for choice in range(4):
                r = task.render(cand, "mc", choice, np.random.default_rng(seed * 10 + choice), env)
                r.update(task="counting", answer_format="mc", frame_indices=cand["frame_indices"],
                         timestamps=cand["timestamps"], media=[r["meta"]["som_image"]] + ["x"] * (len(cand["frame_indices"]) - 1))
                out.append(r)
    return out, task, th


def test_counts_are_the_closed_form_ones_and_pass_the_check(scene):
    recs, task, th = records(scene, range(12))
    by_motion = Counter()
    for r in recs:
        meta = r["meta"]
        flags = TRANSLATES if meta["motion"] == "translating" else SPINS
        want = sum(flags[o] for o in meta["objects"])
        assert len(meta["objects"]) == len(set(meta["objects"])) == 3
        assert meta["label"] == f"n:{want}" and meta["value"] == str(want) and r["options"][r["answer"]] == str(want)
        assert sorted(r["options"].values()) == ["0", "1", "2", "3"]
        assert all(f"<obj_{k}>" in r["question"] for k in (1, 2, 3))
        assert task.check(r, scene, th) == [], task.check(r, scene, th)
        by_motion[meta["motion"], want] += 1
    # translating: 3 movers and 3 still objects, so every count 0..3 can be drawn (and is, over
    # 12 seeds); spinning: one spinner among six, so only 0 or 1
    assert {n for (m, n) in by_motion if m == "translating"} == {0, 1, 2, 3}
    assert {n for (m, n) in by_motion if m == "rotating"} <= {0, 1}


def test_check_catches_a_wrong_count_and_a_swapped_object(scene):
    recs, task, th = records(scene, [0, 1, 2])
    r = next(x for x in recs if x["meta"]["motion"] == "translating")
    bad = json.loads(json.dumps(r))
    n = int(r["meta"]["value"])
    wrong = str((n + 1) % 4)
    letter = next(k for k, v in bad["options"].items() if v == wrong)
    bad["answer"] = letter
    assert any("answer" in p for p in task.check(bad, scene, th))
    # replace a marked mover by a still object (or the reverse): the count no longer matches
    bad = json.loads(json.dumps(r))
    objs = bad["meta"]["objects"]
    swap = next(o for o in TRANSLATES if o not in objs and TRANSLATES[o] != TRANSLATES[objs[0]])
    objs[0] = swap
    assert any("geometry gives" in p for p in task.check(bad, scene, th))
