"""`qa4d generate --preset 4dpqa-bench`: the 4DP-QA-Bench protocol on simulated scenes.

The expected chance accuracy of each bench task is computed here from the records alone (1/2 for
a yes/no item, 1/len(options) for a multiple choice), independently of the settings that chose
the formats, and compared with the random row of the 4DP-QA paper's Table 2.
"""

from __future__ import annotations

import importlib.util
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from qa4d.engine.families.fourdpqa import labels as L
from qa4d.engine.options import assign_formats
from qa4d.engine.presets import PresetError, list_presets, load_preset, make_config

# 4DP-QA paper, Table 2, row "Random" (percent), per task
PAPER_RANDOM = {
    "camera_movement": 43.7, "camera_object_distance_change": 39.2, "object_rotation": 50.0,
    "object_direction": 25.0, "agent_motion": 50.0, "moved_distance": 32.0,
    "object_object_distance_change": 31.7, "depth": 50.0, "object_object_distance": 50.0,
    "multiview_depth": 50.0, "multiview_object_object_distance": 50.0,
}
TRACKING = ("visual_point_tracking", "true_motion_point_tracking")


def records(ds: Path, split: str) -> list[dict]:
    return [json.loads(line) for line in (ds / split / "samples.jsonl").read_text().splitlines()]


def chance(record: dict) -> float:
    if record["answer_format"] == "yesno":
        return 0.5
    if record["answer_format"] == "mc":
        return 1.0 / len(record["options"])
    return 0.0  # free text under exact match


@pytest.fixture(scope="module")
def bench_dataset(tmp_path_factory) -> Path:
    """10 simulated scenes of 40 frames and one of 20 frames, generated with the preset (CLI)."""
    if importlib.util.find_spec("qa4d.sources.sim.cli") is None:
        pytest.skip("the simulator (qa4d.sources.sim) is not available")
    from qa4d.cli import main

    root = tmp_path_factory.mktemp("preset")
    scenes = root / "scenes"
    for n, frames, seed in ((10, 40, 1), (1, 20, 2)):
        assert main(["simulate", "--out", str(scenes), "--scenes", str(n), "--frames", str(frames),
                     "--size", "64", "--seed", str(seed)]) == 0
    out = root / "ds"
    # --bench-fraction is explicit: it must override the preset's (default) value
    assert main(["generate", "--scenes", str(scenes), "--out", str(out), "--preset", "4dpqa-bench",
                 "--bench-fraction", "0.6", "--seed", "0"]) == 0
    return out


def test_preset_bench_matches_the_paper_random_row(bench_dataset):
    bench = records(bench_dataset, "bench")
    per_task = defaultdict(list)
    for r in bench:
        per_task[r["task"]].append(chance(r))
    assert set(per_task) == set(PAPER_RANDOM), sorted(per_task)
    for task, target in PAPER_RANDOM.items():
        got = 100 * float(np.mean(per_task[task]))
        assert len(per_task[task]) >= 5, (task, len(per_task[task]))
        assert abs(got - target) <= 3.0, (task, got, target, len(per_task[task]))


def test_preset_bench_has_32_frames_4_options_and_no_tracking(bench_dataset):
    bench, train = records(bench_dataset, "bench"), records(bench_dataset, "train")
    assert bench and not any(r["task"] in TRACKING for r in bench)
    assert any(r["task"] in TRACKING for r in train)  # tracking stays a training task
    for r in bench + train:
        assert len(r["media"]) == 32 and r["frame_indices"] == list(range(r["frame_indices"][0], r["frame_indices"][0] + 32))
    for r in bench:
        assert r["answer_format"] in ("mc", "yesno")
        if r["answer_format"] == "mc":
            assert sorted(r["options"]) == ["A", "B", "C", "D"], r["id"]
            assert len(set(r["options"].values())) == 4


def test_preset_skips_short_scenes_with_a_reason(bench_dataset):
    info = json.loads((bench_dataset / "dataset.json").read_text())
    assert info["settings"]["preset"] == "4dpqa-bench" and info["settings"]["bench_fraction"] == 0.6
    assert info["settings"]["media_frames"] == 32
    recs = records(bench_dataset, "bench") + records(bench_dataset, "train")
    assert not any(r["scene_id"] == "sim2_00000" for r in recs)
    reason = "scene has 20 frames, fewer than segment_frames=32"
    skips = {t.split("/", 1)[1]: v for t, v in info["skips"].items()}  # keys are family/task
    assert all(skips[t].get(reason) == 1 for t in PAPER_RANDOM), {t: skips[t] for t in PAPER_RANDOM}


def test_preset_dataset_passes_the_audit_checks(bench_dataset):
    from qa4d.engine.audit import audit

    rep = audit(bench_dataset)
    assert rep["disagreements"] == [] and rep["schema_errors"] == []
    # the fourth distance-change option is a turning distance, never the answer
    fourth = [r for r in records(bench_dataset, "bench")
              if r["answer_format"] == "mc" and r["task"].endswith("distance_change")]
    assert fourth
    for r in fourth:
        turns = [k for k, v in r["meta"]["option_labels"].items() if v in L.DISTANCE_TURN_STATEMENTS]
        assert len(turns) == 1 and turns[0] != r["answer"]


# ----------------------------------------------------------------------------- settings


def test_preset_is_data_and_flags_override_it():
    assert "4dpqa-bench" in list_presets()
    s = load_preset("4dpqa-bench")
    assert s["media_frames"] == 32 and s["bench_exclude_categories"] == ["point_tracking"]
    cfg = make_config("scenes", "out", preset="4dpqa-bench", media_frames=16, seed=None)
    assert cfg.media_frames == 16 and cfg.segment_frames == 32 and cfg.seed == 0 and cfg.preset == "4dpqa-bench"
    plain = make_config("scenes", "out")
    assert plain.media_frames == 8 and plain.bench_task_formats == {} and plain.preset is None


def test_bad_presets_are_clear_errors(tmp_path, monkeypatch):
    from qa4d.engine import presets

    with pytest.raises(PresetError, match="unknown preset 'nope'"):
        load_preset("nope")
    (tmp_path / "typo.json").write_text(json.dumps({"settings": {"media_frame": 4}}))
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path)
    with pytest.raises(PresetError, match="typo.json: settings: unknown key.*media_frame"):
        load_preset("typo")
    (tmp_path / "shape.json").write_text(json.dumps({"settings": {"mc_options": 4}}))
    with pytest.raises(PresetError, match=r"shape.json: settings.mc_options: expected a JSON object, got 4"):
        load_preset("shape")


def test_cli_rejects_an_unknown_preset(tmp_path, capsys):
    from qa4d.cli import main

    code = main(["generate", "--scenes", str(tmp_path), "--out", str(tmp_path / "o"), "--preset", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown preset 'nope'" in err and "Traceback" not in err


# ----------------------------------------------------------------------------- building blocks


def test_turning_distance_statements_are_offered_only_when_clearly_false():
    th = L.load_thresholds("default")  # distance_change_rel low band 0.05, floor 0.25 m
    t = np.linspace(0, 1, 33)
    rising = 2.0 * (1 + 0.4 * t)                  # monotone +40 %
    assert L.distance_turns_clearly_false(rising, th) == list(L.DISTANCE_TURN_STATEMENTS)
    peak = 2.0 * (1 + 0.3 * np.sin(np.pi * t))     # +30 % then back: rises then falls
    assert L.distance_turns_clearly_false(peak, th) == ["decreasing_then_increasing"]
    dip = 2.0 * (1 - 0.3 * np.sin(np.pi * t))
    assert L.distance_turns_clearly_false(dip, th) == ["increasing_then_decreasing"]
    wobble = 2.0 * (1 - 0.08 * np.sin(np.pi * t))  # -8 % and back: in the dead band, not clearly false
    assert L.distance_turns_clearly_false(wobble, th) == ["increasing_then_decreasing"]
    small = 2.0 * (1 - 0.04 * np.sin(np.pi * t))   # -4 %: below the low band, clearly no turn
    assert L.distance_turns_clearly_false(small, th) == list(L.DISTANCE_TURN_STATEMENTS)
    assert L.describe("object_object_distance_change", "decreasing_then_increasing") == "first decreases, then increases"


def test_format_mix_holds_with_rare_labels_and_strict_drops_the_excess():
    # 30 labels of 1-2 candidates; a quarter allow yes/no only (comparisons with two items)
    cands = [{"uid": f"l{i:02d}/{j}", "key": f"l{i:02d}"} for i in range(30) for j in range(1 + i % 2)]
    for n, c in enumerate(cands):
        c["formats"] = ["yesno"] if n % 4 == 0 else ["mc", "yesno"]
    w = {"yesno": 0.748, "mc": 0.252}
    out = assign_formats(cands, lambda c: c["formats"], w, np.random.default_rng(0))
    yes = sum(f == "yesno" for _, f in out)
    assert len(out) == len(cands) and abs(yes - 0.748 * len(out)) <= 1
    # mostly yes/no-only candidates and a multiple-choice-heavy mix: strict drops yes/no-only ones
    for n, c in enumerate(cands):
        c["formats"] = ["yesno"] if n % 2 == 0 else ["mc", "yesno"]
    w = {"yesno": 0.28, "mc": 0.72}
    loose = assign_formats(cands, lambda c: c["formats"], w, np.random.default_rng(0))
    strict = assign_formats(cands, lambda c: c["formats"], w, np.random.default_rng(0), strict=True)
    forced = sum(c["formats"] == ["yesno"] for c in cands)
    assert len(loose) == len(cands) and sum(f == "yesno" for _, f in loose) == forced  # flexible ones all mc
    yes = sum(f == "yesno" for _, f in strict)
    assert abs(yes - 0.28 * len(strict)) <= 1 and len(strict) < len(cands)
    assert all(f in c["formats"] for c, f in strict)
