"""TimeBench family, task elapsed_time: hand-made scenes with a known frame count re-timed to known
rates give exactly the expected durations, timestamps and options; a simulated dataset passes
generate -> audit -> eval with the oracle and the prompt-obedient model at 1.0."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from qa4d.dataset import read_samples, validate_record
from qa4d.engine.config import GenerateConfig
from qa4d.engine.kinds.base import RenderEnv, SceneContext
from qa4d.engine.registry import get_family, get_task
from qa4d.engine.sampling import rng_for
from tests.engine.toy_scenes import make_scene, static_camera

# 25 frames, one segment, 5 images: frames 0, 6, 12, 18, 24, i.e. 24 frame intervals.
# Expected options (seconds, 2 decimals) per rate, written out by hand: 24/fps x 0.25, 0.5, 1, 2, 4.
EXPECTED = {
    10.0: (2.40, {"0.60 s", "1.20 s", "2.40 s", "4.80 s", "9.60 s"}),
    15.0: (1.60, {"0.40 s", "0.80 s", "1.60 s", "3.20 s", "6.40 s"}),
    24.0: (1.00, {"0.25 s", "0.50 s", "1.00 s", "2.00 s", "4.00 s"}),
    30.0: (0.80, {"0.20 s", "0.40 s", "0.80 s", "1.60 s", "3.20 s"}),
}


def cands(scene, seed, **kw):
    cfg = GenerateConfig(scenes="", out="", seed=seed, **{"segment_frames": 25, "media_frames": 5, **kw})
    ctx = SceneContext(scene=scene, config=cfg, thresholds=get_family("timebench").thresholds("test"),
                       family="timebench")
    return get_task("timebench", "elapsed_time").candidates(ctx), cfg, ctx


def render(cand, cfg, choice):
    task = get_task("timebench", "elapsed_time")
    env = RenderEnv(scene_meta=None, config=cfg, pool={})
    out = task.render(cand, "mc", choice, rng_for(0, "render", cand["uid"]), env)
    return {"id": "timebench/" + cand["uid"], "family": "timebench", "task": "elapsed_time", "category": "time",
            "scene_id": cand["scene_id"], "media": [f"media/x/{t:06d}.jpg" for t in cand["frame_indices"]],
            "frame_indices": cand["frame_indices"], "timestamps": cand["timestamps"], "answer_format": "mc", **out}


@pytest.fixture(scope="module")
def scene():
    return make_scene(static_camera(25))


def test_known_frame_count_gives_exact_durations_timestamps_and_options(scene):
    task = get_task("timebench", "elapsed_time")
    _, cfg, ctx = cands(scene, 0)
    for fps, (value, options) in EXPECTED.items():
        cand = task.clip_candidate(ctx, (0, 25), [0, 6, 12, 18, 24], 6, fps)
        assert cand["timestamps"] == pytest.approx([0, 6 / fps, 12 / fps, 18 / fps, 24 / fps], abs=1e-6)
        for choice in range(5):
            rec = render(cand, cfg, choice)
            assert rec["meta"]["value"] == value and rec["meta"]["unit"] == "s"
            assert set(rec["options"].values()) == options and len(rec["options"]) == 5
            assert rec["answer"] == "ABCDE"[choice] and rec["options"][rec["answer"]] == f"{value:.2f} s"
            q = rec["question"]
            assert f"{fps:g} frames per second" in q and " 6 frames" in q and "5 " in q
            assert task.check(rec, scene, None) == [] and validate_record(rec) is rec


def test_drawn_clips_fit_the_segment_and_use_every_rate(scene):
    task = get_task("timebench", "elapsed_time")
    seen, spans = set(), set()
    for seed in range(40):
        got, cfg, _ = cands(scene, seed)
        for cand in got:
            f, fps = cand["frame_indices"], cand["fps"]
            seen.add(fps)
            spans.add(f[-1] - f[0])
            assert 0 <= f[0] and f[-1] < 25 and 3 <= len(f) <= 5
            assert all(b - a == cand["step"] for a, b in zip(f, f[1:]))
            assert cand["value"] == round((f[-1] - f[0]) / fps, 2) >= 0.5
            assert task.check(render(cand, cfg, seed % 5), scene, None) == []
    assert seen == set(EXPECTED) and len(spans) >= 5


def test_audit_check_catches_a_wrong_duration_rate_or_answer(scene):
    task = get_task("timebench", "elapsed_time")
    _, cfg, ctx = cands(scene, 0)
    rec = render(task.clip_candidate(ctx, (0, 25), [0, 6, 12, 18, 24], 6, 15.0), cfg, 2)
    wrong_value = json.loads(json.dumps(rec))
    wrong_value["meta"]["value"] += 0.01
    assert any("meta.value" in p for p in task.check(wrong_value, scene, None))
    wrong_rate = json.loads(json.dumps(rec))
    wrong_rate["meta"]["fps"] = 12.0
    assert "not one of the rates" in task.check(wrong_rate, scene, None)[0]
    wrong_answer = dict(rec, answer="A")
    assert any("is not the option" in p for p in task.check(wrong_answer, scene, None))
    other_rate = json.loads(json.dumps(rec))
    other_rate["meta"]["fps"] = 30.0 if rec["meta"]["fps"] != 30.0 else 10.0
    assert task.check(other_rate, scene, None)  # options and timestamps no longer fit


def test_short_clips_are_not_asked(scene):
    # 3 images 1 frame apart: at most 2/10 s, under min_duration_s (0.5 s)
    got, _, ctx = cands(make_scene(static_camera(3)), 0, segment_frames=3, media_frames=3)
    assert got == [] and ctx.skips["timebench/elapsed_time"] == {"clip shorter than min_duration_s": 1}


def cli(*args):
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("timebench")
    r = cli("simulate", "--out", str(root / "scenes"), "--scenes", "3", "--frames", "40", "--size", "48", "--seed", "3")
    assert r.returncode == 0, r.stderr
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "timebench",
            "--segments-per-scene", "4", "--bench-fraction", "0.7")
    assert r.returncode == 0, r.stderr
    return root, root / "ds"


def test_simulated_dataset_passes_audit_and_balances_positions(dataset):
    root, ds = dataset
    r = cli("audit", str(ds))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((ds / "audit.json").read_text())["disagreements"] == []
    recs = [r for s in ("train", "bench") if (ds / s / "samples.jsonl").exists() for r in read_samples(ds / s / "samples.jsonl")]
    assert recs
    for split in ("train", "bench"):
        p = ds / split / "samples.jsonl"
        pos = Counter(r["answer"] for r in read_samples(p)) if p.exists() else Counter()
        counts = [pos.get(k, 0) for k in "ABCDE"]
        assert max(counts) - min(counts) <= 1, (split, counts)
    for r in recs:  # the answer stated in the options is the duration of the frames at the stated rate
        f, m = r["frame_indices"], r["meta"]
        assert np.isclose(m["value"], round((f[-1] - f[0]) / m["fps"], 2))
        assert r["timestamps"][0] == 0.0 and np.isclose(r["timestamps"][-1], (f[-1] - f[0]) / m["fps"], atol=1e-6)


@pytest.mark.parametrize("model", ["oracle", "obedient"])
def test_simulated_bench_scores_1_for_oracle_and_obedient(dataset, model):
    root, ds = dataset
    r = cli("eval", "--benchmark", str(ds / "bench"), "--model", model, "--out", str(root / model))
    assert r.returncode == 0, r.stderr
    overall = json.loads((root / model / "metrics.json").read_text())["overall"]
    assert overall["n"] > 0 and overall["accuracy"] == 1.0


# ------------------------------------------------------------------------------ uniform rank (preset)


def test_published_layout_puts_the_answer_at_the_median(scene):
    """The default (TimeBench's own design): the true duration is always the 3rd of 5 by size."""
    for seed in range(20):
        got, cfg, _ = cands(scene, seed)
        for c in got:
            out = render(c, cfg, seed % 5)
            vals = sorted(float(v.split()[0]) for v in out["options"].values())
            assert vals.index(out["meta"]["value"]) == 2


def test_uniform_rank_ladder_puts_the_answer_at_every_rank_and_passes_the_check(scene):
    """Preset timebench-uniform-rank: ratios 2^(j - k) for a rank k drawn per segment; 24 frame
    intervals at 24 fps are 1.00 s, so rank k gives the options 2^(j - k) s written out below."""
    from qa4d.engine.registry import thresholds_for

    th = thresholds_for("timebench", "test", {"timebench": {"uniform_rank": 1}})   # as the preset sets it
    task = get_task("timebench", "elapsed_time")
    want = {0: ["1.00 s", "2.00 s", "4.00 s", "8.00 s", "16.00 s"], 1: ["0.50 s", "1.00 s", "2.00 s", "4.00 s", "8.00 s"],
            2: ["0.25 s", "0.50 s", "1.00 s", "2.00 s", "4.00 s"], 3: ["0.12 s", "0.25 s", "0.50 s", "1.00 s", "2.00 s"],
            4: ["0.06 s", "0.12 s", "0.25 s", "0.50 s", "1.00 s"]}
    ranks = Counter()
    for seed in range(300):
        cfg = GenerateConfig(scenes="", out="", seed=seed, segment_frames=25, media_frames=5)
        ctx = SceneContext(scene=scene, config=cfg, thresholds=th, family="timebench")
        for c in task.candidates(ctx):
            out = render(c, cfg, seed % 5)
            vals = sorted(out["options"].values(), key=lambda v: float(v.split()[0]))
            rank = vals.index(out["options"][out["answer"]])
            ranks[rank] += 1
            assert task.check(out, scene, th) == []
            if c["frame_indices"] == [0, 6, 12, 18, 24] and c["fps"] == 24.0:
                assert vals == want[rank] and out["meta"]["value"] == 1.0
            # the published check rejects a ladder other than 0.25x..4x
            if rank != 2:
                assert any("option_ratios" in p for p in task.check(out, scene, get_family("timebench").thresholds("test")))
    n = sum(ranks.values())
    assert set(ranks) == {0, 1, 2, 3, 4} and all(abs(k - n / 5) < 6 * (n * 0.16) ** 0.5 for k in ranks.values()), ranks


def test_uniform_rank_preset_is_registered():
    from qa4d.engine.presets import load_preset

    s = load_preset("timebench-uniform-rank")
    assert s["families"] == ["timebench"] and s["thresholds"] == {"timebench": {"uniform_rank": 1}}


def test_prompts_never_show_the_clip_times(dataset):
    """The clip's times are the answer: neither the bench prompt nor a trainer export may state
    them (a prompt with 'taken at 0.00, ..., 2.40 seconds' is answered by reading it off)."""
    from qa4d.bench.registry import get_benchmark
    from qa4d.export.records import image_lines

    root, ds = dataset
    bench = get_benchmark("qa4d")()
    items = list(bench.load(ds / "bench"))
    assert items
    for it in items:
        prompt = bench.build_prompt(it, "do")
        assert "taken at" not in prompt and "seconds." not in prompt.split("?")[0][-40:]
        last = f"{float(it.meta['timestamps'][-1]):.2f}"
        assert last not in prompt.replace(it.options[it.answer], ""), prompt  # the answer only as an option
    for rec in read_samples(ds / "bench" / "samples.jsonl"):
        lines = image_lines({**rec, "meta": {**rec["meta"], "times_hidden": True}}, "<image>")
        assert all("s" not in ln.split(":")[0] for ln in lines)
    # a clip record without the flag does state its times (the rule is the flag, not the family)
    it = items[0]
    it.meta["times_hidden"] = False
    assert "taken at" in bench.build_prompt(it, "do")
