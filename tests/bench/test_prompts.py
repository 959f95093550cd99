"""Prompts ask for exactly what is scored: the `obedient` baseline, which knows the truth and writes
it in the form the prompt's instruction asks for, scores 1.0 in every mode on a dataset generated
from simulated scenes and on every loader's fixtures; under a mismatched instruction (the old
pixel-coordinate one for point tracks, a wrong unit) the same model scores below 1.0."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from qa4d.bench.benchmarks.base import PROMPT_MODES, answer_form
from qa4d.bench.models.base import ModelError
from qa4d.bench.models.baselines import ObedientModel, obedient_reply
from qa4d.bench.registry import get_benchmark
from qa4d.bench.scoring import score_responses
from qa4d.cli import main as qa4d_main
from tests.bench.scoring_fixtures import (
    R4D_RECORDS,
    VLM4D_DIR,
    VSTI_RECORDS,
    make_multispa,
    make_qa4d_split,
    make_sti_parquet,
)
from tests.bench.tiny_bench import TinyBench, make_items

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "qa4d" / "engine" / "families" / "fourdpqa" / "templates"

# Three VLM4D records written by hand in the authors' layout (answer = the choice text, sometimes
# an integer), so the VLM4D prompts are checked without the published files.
VLM4D_RECORDS = [
    {"id": "validation_1", "video": "https://host/datasets/x/resolve/main/videos_real/davis/car.mp4",
     "question_type": "mc", "question": "Which way is the car turning?",
     "choices": {"A": "left", "B": "right", "C": "not turning", "D": "no car there"}, "answer": "right"},
    {"id": "validation_2", "video": "https://host/datasets/x/resolve/main/videos_real/ego4d/c.mp4",
     "question_type": "mc", "question": "How many times does the person jump?",
     "choices": {"A": 1, "B": 2, "C": 3, "D": 0}, "answer": 3},
    {"id": "validation_3", "video": "https://host/datasets/x/resolve/main/videos_real/davis/a.mp4",
     "question_type": "mc", "question": "Is the arm rotating clockwise?",
     "choices": {"A": "clockwise", "B": "counter-clockwise", "C": "not rotating", "D": "no arm there"},
     "answer": "no arm there"},
]


def fixtures(tmp: Path) -> dict[str, Path]:
    """Every loader's test fixture: {benchmark name: annotations}."""
    (tmp / "vsti.json").write_text(json.dumps(VSTI_RECORDS))
    (tmp / "r4d").mkdir()
    (tmp / "r4d" / "test.json").write_text(json.dumps(R4D_RECORDS))
    (tmp / "vlm4d").mkdir()
    (tmp / "vlm4d" / "real_mc.json").write_text(json.dumps(VLM4D_RECORDS))
    return {
        "qa4d": make_qa4d_split(tmp),
        "multispa": make_multispa(tmp / "ms"),
        "sti-bench": make_sti_parquet(tmp / "qa.parquet"),
        "vsti-bench": tmp / "vsti.json",
        "r4d-bench": tmp / "r4d",
        "vlm4d": tmp / "vlm4d",
    }


def obedient_scores(bench, items, mode: str, frames: int | None = None):
    model = ObedientModel()
    replies = {it.id: model.generate(bench.build_prompt(it, mode, frames=frames), [], it) for it in items}
    return replies, score_responses(bench, items, replies)


# ----------------------------------------------------------------------------- 1.0 everywhere

@pytest.mark.parametrize("mode", PROMPT_MODES)
@pytest.mark.parametrize("split", ["bench", "train"])
def test_obedient_scores_one_on_a_generated_dataset(generated, split, mode):
    from qa4d.engine.registry import family_tasks

    TASKS = family_tasks("4dpqa")

    bench = get_benchmark("qa4d")()
    items = bench.load(generated / split)
    replies, (scored, metrics) = obedient_scores(bench, items, mode)
    assert {it.task for it in items} == set(TASKS)  # every task of the 4DP-QA family
    want = {"mc", "yesno", "track"} | ({"free"} if split == "train" else set())
    assert {it.answer_format for it in items} == want
    wrong = [(s.id, s.rule, replies[s.id][:120]) for s in scored if s.score != 1.0]
    assert wrong == [] and metrics["overall"]["accuracy"] == 1.0
    for task, stats in metrics["by_task"].items():
        assert stats["accuracy"] == 1.0 and stats["unparsed"] == 0, task
    # the reply has the asked shape: cot replies reason first, direct ones are the answer alone
    for it in items:
        reply = replies[it.id]
        if mode == "cot":
            assert reply.startswith("Let me think step by step.")
        elif it.answer_format == "track":
            assert isinstance(json.loads(reply), list)
        else:
            assert "\n" not in reply


def test_obedient_scores_one_on_a_dataset_from_the_real_simulator(sim_scenes, tmp_path):
    """Scenes rendered by `qa4d simulate` (PyBullet), every scene on the bench split."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    generate(GenerateConfig(scenes=str(sim_scenes), out=str(tmp_path / "ds"), seed=1, bench_fraction=1.0,
                            media_frames=6), log=lambda m: None)
    bench = get_benchmark("qa4d")()
    items = bench.load(tmp_path / "ds" / "bench")
    assert {"mc", "yesno", "track"} <= {it.answer_format for it in items}
    for mode in PROMPT_MODES:
        replies, (scored, metrics) = obedient_scores(bench, items, mode)
        assert metrics["overall"]["accuracy"] == 1.0, [(s.id, replies[s.id][:100]) for s in scored if s.score != 1]


@pytest.mark.parametrize("mode", PROMPT_MODES)
def test_obedient_scores_one_on_every_loader_fixture(tmp_path, mode):
    for name, ann in fixtures(tmp_path).items():
        bench = get_benchmark(name)()
        items = bench.load(ann)
        replies, (scored, metrics) = obedient_scores(bench, items, mode, frames=bench.default_frames)
        assert metrics["overall"]["accuracy"] == 1.0, (name, [(s.id, s.rule, replies[s.id]) for s in scored if s.score != 1])
        assert metrics["overall"]["unparsed"] == 0


@pytest.mark.parametrize("mode", PROMPT_MODES)
def test_obedient_scores_one_on_the_vlm4d_files(mode):
    bench = get_benchmark("vlm4d")()
    items = bench.load(VLM4D_DIR)
    _, (_, metrics) = obedient_scores(bench, items, mode)
    # the published files (1,816 questions) beside the repository, else the shipped fixture
    n = sum(len(json.loads((VLM4D_DIR / f).read_text())) for f in ("real_mc.json", "synthetic_mc.json"))
    assert metrics["overall"]["n"] == n and metrics["overall"]["accuracy"] == 1.0


def test_obedient_end_to_end_through_qa4d_eval(generated, tmp_path):
    for mode in PROMPT_MODES:
        run = tmp_path / mode
        assert qa4d_main(["eval", "--benchmark", str(generated / "bench"), "--model", "obedient",
                          "--mode", mode, "--out", str(run)]) == 0
        m = json.loads((run / "metrics.json").read_text())
        assert m["overall"]["accuracy"] == 1.0 and m["overall"]["n"] == len(
            (generated / "bench" / "samples.jsonl").read_text().splitlines())


# ----------------------------------------------------------------------------- mismatches fail

def _frame_size(item, bench) -> tuple[float, float]:
    from PIL import Image

    with Image.open(bench.media_paths(item, None)[0]) as im:
        return float(im.size[0]), float(im.size[1])


def test_the_old_pixel_instruction_fails_point_tracks(generated):
    """The tracking instruction used to ask for "pixel coordinates of the frames shown" while the
    ground truth and the scorer use [0, 1]: an obedient pixel answer is scored wrong."""
    bench = get_benchmark("qa4d")()
    tracks = [it for it in bench.load(generated / "bench") if it.answer_format == "track"]
    pixel_form = answer_form("track", "do", coords="pixels")
    assert "pixel coordinates of the frames shown" in pixel_form.instruction
    asked = bench.answer_form(tracks[0], "do")
    assert "normalised to [0, 1]" in asked.instruction and "pixel" not in asked.instruction
    pixel = {it.id: obedient_reply(it, pixel_form, _frame_size(it, bench)) for it in tracks}
    unit = {it.id: obedient_reply(it, asked) for it in tracks}
    pixel_scored, pixel_metrics = score_responses(bench, tracks, pixel)
    _, unit_metrics = score_responses(bench, tracks, unit)
    assert unit_metrics["overall"]["accuracy"] == 1.0
    assert pixel_metrics["overall"]["accuracy"] < 0.5
    for it, s in zip(tracks, pixel_scored):
        query = it.meta["query"]["frame"]
        if any(p["visible"] and p["frame"] != query for p in it.meta["track"]):
            assert s.score < 1.0, it.id  # any track with a visible scored point is wrong in pixels


@pytest.mark.parametrize("fmt, wrong", [
    ("vector", {"unit": "m"}),           # the question asks for mm; metres are read as mm
    ("scalar", {"unit": "m"}),
    ("coord", {"coords": "unit"}),       # MultiSPA points are 0-1000, not [0, 1]
])
def test_a_wrong_unit_in_the_instruction_fails(tmp_path, fmt, wrong):
    bench = get_benchmark("multispa")()
    items = [it for it in bench.load(make_multispa(tmp_path / "ms"))
             if it.answer_format == fmt and it.meta.get("unit") != "deg"]
    assert items
    asked = [bench.answer_form(it, "do") for it in items]
    kw = {"unit": asked[0].unit, "coords": asked[0].coords, **wrong}
    bad_form = answer_form(fmt, "do", wording="multispa", **kw)
    _, good = score_responses(bench, items, {it.id: obedient_reply(it, f) for it, f in zip(items, asked)})
    _, bad = score_responses(bench, items, {it.id: obedient_reply(it, bad_form) for it in items})
    assert good["overall"]["accuracy"] == 1.0 and bad["overall"]["accuracy"] == 0.0


# ----------------------------------------------------------------------------- instruction texts

def test_instructions_name_the_scored_units(tmp_path):
    loaded = {name: get_benchmark(name)().load(a) for name, a in fixtures(tmp_path).items()}
    for name, items in loaded.items():
        bench = get_benchmark(name)()
        for it in items:
            for mode in PROMPT_MODES:
                form = bench.answer_form(it, mode)
                assert form.instruction in bench.build_prompt(it, mode, frames=bench.default_frames)
                text = form.instruction
                if it.answer_format == "track":
                    assert "normalised to [0, 1]" in text and "frame 1 is the first image shown" in text
                if it.answer_format == "coord":
                    assert "normalised to 0-1000" in text
                if it.answer_format in ("scalar", "vector"):
                    assert {"mm": "millimetres", "deg": "degrees"}[it.meta["response_unit"]] in text
                if it.answer_format == "number":
                    assert "the unit the question asks for" in text
                if mode == "cot" and form.place == "final_line":
                    assert "Therefore, the final answer is: " in text
                assert not re.search(r"\bpixel", text)


def test_every_tracking_question_template_says_normalised():
    for task in ("visual_point_tracking", "true_motion_point_tracking"):
        questions = json.loads((TEMPLATES / f"{task}.json").read_text())["questions"]["track"]
        for q in questions:
            assert "normalised" in q, q
            assert "pixel {point}" not in q  # {point} may be a phrase ("the centre of the red circle")


def test_obedient_refuses_a_prompt_without_a_known_instruction(tmp_path):
    item = make_items(tmp_path, 1)[0]
    bench = TinyBench([item])
    with pytest.raises(ModelError, match="none of the tiny answer instructions"):
        ObedientModel(benchmark=bench).generate(bench.build_prompt(item, "do", 4), [], item)


def test_obedient_converts_units_and_spaces_itself():
    """Independent of the extractor: 0.1 m asked in mm is 100; a 0-1000 point asked in pixels of a
    640 x 480 frame scales by the frame size."""
    from qa4d.bench.types import BenchItem

    vec = BenchItem("v", "multispa", "displacement_vector", "q", "[0.1, -0.2, 1.5]", answer_format="vector",
                    meta={"unit": "m", "response_unit": "mm"})
    form = answer_form("vector", "cot", unit="mm", wording="multispa")
    reply = obedient_reply(vec, form)
    assert reply.endswith("`[100, -200, 1500]`") and reply.startswith("Let me think")
    pt = BenchItem("c", "multispa", "coor", "q", "[500.0, 250.0]", answer_format="coord", meta={"coords": "per_mille"})
    got = obedient_reply(pt, answer_form("coord", "do", coords="pixels"), frame_size=(640.0, 480.0))
    assert np.allclose(json.loads(got.strip("`")), [320.0, 120.0])


def test_qa4d_splits_show_every_image_by_default(tmp_path):
    """Questions name frames by their position among a sample's images: all ten are shown (more
    than any fixed default of 8 would)."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate
    from tests.engine import toy

    for spec in toy.varied_scenes(2, seed=3, frames=12, size=32):
        toy.build(spec, tmp_path / "scenes")
    generate(GenerateConfig(scenes=str(tmp_path / "scenes"), out=str(tmp_path / "ds"), seed=0, bench_fraction=1.0,
                            media_frames=10, tasks=["camera_movement", "visual_point_tracking"]), log=lambda m: None)
    counter = tmp_path / "count_images.py"
    counter.write_text("def answer(prompt, images, item):\n    return f'{len(images)} of {len(item.media)}'\n")
    run = tmp_path / "run"
    assert qa4d_main(["eval", "--benchmark", str(tmp_path / "ds" / "bench"), "--model", f"python:{counter}:answer",
                      "--limit", "5", "--out", str(run)]) == 0
    replies = [json.loads(x)["response"] for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert len(replies) == 5 and all(r == "10 of 10" for r in replies)
