"""Scoring end to end: `qa4d score` on the real VLM4D questions with hand-made responses, the
other formats on small files, predictions files from crashed writers, guessing and the judge."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from qa4d.bench.registry import get_benchmark
from qa4d.bench.scoring import read_prediction_file, read_predictions, score_responses, write_score_outputs
from qa4d.bench.types import Extraction
from qa4d.cli import main as qa4d_main
from tests.bench.scoring_fixtures import (
    VLM4D_DIR,
    VSTI_RECORDS,
    make_multispa,
    make_qa4d_split,
    make_sti_parquet,
    write_jsonl,
)


def _raw_vlm4d():
    """(id, record, split) straight from the files, independent of the loader."""
    out = []
    for split, name in (("real", "real_mc"), ("synthetic", "synthetic_mc")):
        for r in json.loads((VLM4D_DIR / f"{name}.json").read_text()):
            out.append((f"{name}/{r['id']}", r, split))
    return out


STYLES = [
    lambda L, t: f"Therefore, the final answer is: {L}",
    lambda L, t: f"<answer>{L}</answer>",
    lambda L, t: f"{L}",
    lambda L, t: f"Answer: {L}",
    lambda L, t: t,
    lambda L, t: f"A is unlikely, B too, C hmm, D maybe. Overall I pick {L}.",
    lambda L, t: "I cannot determine the motion from these frames.",  # garbage
]


def _letters(rec):
    right = [k for k, v in rec["choices"].items() if str(v) == str(rec["answer"])]
    wrong = [k for k, v in rec["choices"].items() if str(v) != str(rec["answer"])]
    return right[0], wrong[0]


@pytest.fixture(scope="module")
def vlm4d_run(tmp_path_factory):
    """Responses in every style; item i answers right unless i % 5 == 0; style i % 7."""
    tmp = tmp_path_factory.mktemp("vlm4d")
    preds, truth = [], {}
    for i, (rid, rec, split) in enumerate(_raw_vlm4d()):
        right, wrong = _letters(rec)
        style = i % len(STYLES)
        letter = wrong if i % 5 == 0 else right
        preds.append({"id": rid, "response": STYLES[style](letter, str(rec["choices"][letter]))})
        n = int(re.search(r"(\d+)$", rec["id"]).group(1))
        truth[rid] = {
            "correct": style != 6 and i % 5 != 0,
            "unparsed": style == 6,
            "split": split,
            "view": None if split != "real" else ("ego-centric" if n >= 923 else "exo-centric"),
            "fp": split == "synthetic" and bool(re.fullmatch(r"no .+ there", str(rec["answer"]).lower())),
        }
    write_jsonl(tmp / "pred.jsonl", preds)
    out = tmp / "score"
    rc = qa4d_main(["score", "--benchmark", "vlm4d", "--annotations", str(VLM4D_DIR),
                    "--predictions", str(tmp / "pred.jsonl"), "--out", str(out)])
    assert rc == 0
    metrics = json.loads((out / "metrics.json").read_text())
    scored = [json.loads(line) for line in (out / "scored.jsonl").read_text().splitlines()]
    return metrics, scored, truth, out


def _acc(truth, pred):
    sel = [t for t in truth.values() if pred(t)]
    return sum(t["correct"] for t in sel) / len(sel), len(sel)


def test_vlm4d_overall(vlm4d_run):
    metrics, scored, truth, _ = vlm4d_run
    o = metrics["overall"]
    acc, n = _acc(truth, lambda t: True)
    assert o["n"] == n == len(_raw_vlm4d())
    assert o["accuracy"] == pytest.approx(acc)
    assert o["unparsed"] == sum(t["unparsed"] for t in truth.values())
    assert o["correct"] == sum(t["correct"] for t in truth.values())
    assert o["ci95"][0] < o["accuracy"] < o["ci95"][1]
    assert o["chance"] == 0.25
    assert o["chance_adjusted"] == pytest.approx((acc - 0.25) / 0.75)


def test_vlm4d_groupings(vlm4d_run):
    metrics, _, truth, _ = vlm4d_run
    g = metrics["by_group"]
    for name, pred in [
        ("real", lambda t: t["split"] == "real"),
        ("synthetic", lambda t: t["split"] == "synthetic"),
        ("ego-centric", lambda t: t["view"] == "ego-centric"),
        ("exo-centric", lambda t: t["view"] == "exo-centric"),
        ("synthetic false-positive", lambda t: t["fp"]),
        ("synthetic directional", lambda t: t["split"] == "synthetic" and not t["fp"]),
    ]:
        acc, n = _acc(truth, pred)
        assert g[name]["n"] == n, name
        assert g[name]["accuracy"] == pytest.approx(acc), name
    raw = _raw_vlm4d()
    assert metrics["by_split"]["real"]["n"] == sum(split == "real" for _, _, split in raw)
    assert metrics["by_split"]["synthetic"]["n"] == sum(split == "synthetic" for _, _, split in raw)
    assert set(metrics["by_category"]) == {"real", "synthetic"}
    assert sum(v["n"] for v in metrics["by_task"].values()) == len(raw)


def test_vlm4d_scored_items_say_how_they_were_read(vlm4d_run):
    _, scored, truth, _ = vlm4d_run
    assert len(scored) == len(truth)
    by_id = {s["id"]: s for s in scored}
    for rid, t in truth.items():
        s = by_id[rid]
        assert s["correct"] == t["correct"], rid
        assert (s["rule"] == "unparsed") == t["unparsed"]
        assert s["score"] == float(t["correct"])
    rules = {s["rule"] for s in scored}
    assert {"final_answer", "answer_tag", "leading_letter", "answer_colon", "option_text", "last_letter", "unparsed"} <= rules


def test_outputs_are_deterministic_and_atomic(vlm4d_run, tmp_path):
    _, _, _, out = vlm4d_run
    rc = qa4d_main(["score", "--benchmark", "vlm4d", "--annotations", str(VLM4D_DIR),
                    "--predictions", str(out.parent / "pred.jsonl"), "--out", str(tmp_path)])
    assert rc == 0
    for f in ("metrics.json", "scored.jsonl"):
        assert (tmp_path / f).read_bytes() == (out / f).read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json", "scored.jsonl"]


def test_guess_parity_mode(tmp_path):
    items = get_benchmark("vlm4d")().load(VLM4D_DIR / "synthetic_mc.json")
    garbage = {it.id: "no idea" for it in items}
    s1, m1 = score_responses("vlm4d", items, garbage, guess=True, seed=5)
    s2, m2 = score_responses("vlm4d", items, garbage, guess=True, seed=5)
    assert [s.extracted for s in s1] == [s.extracted for s in s2]
    assert m1["overall"]["guessed"] == len(items) and m1["overall"]["unparsed"] == 0
    assert {s.rule for s in s1} == {"random_guess"}
    hits = [it.options[s.extracted] == it.options[it.answer] for s, it in zip(s1, items)]
    assert m1["overall"]["accuracy"] == pytest.approx(sum(hits) / len(items))
    assert len({s.extracted for s in s1}) == 4  # guesses spread over the options
    if len(items) > 400:
        assert 0.15 < m1["overall"]["accuracy"] < 0.35  # chance is 0.25
    _, m0 = score_responses("vlm4d", items, garbage)
    assert m0["overall"]["accuracy"] == 0.0 and m0["overall"]["unparsed"] == len(items)


def test_errors_missing_unknown_and_judge():
    items = get_benchmark("vlm4d")().load(VLM4D_DIR / "synthetic_mc.json")[:6]
    responses = {items[0].id: items[0].answer, items[1].id: "beats me", items[2].id: "hmm?",
                 "synthetic_mc/validation_9999": "A"}
    errors = {items[3].id: "HTTP 500 after 3 retries"}
    calls = []

    def judge(item, response):
        calls.append(item.id)
        return Extraction(item.answer, "judge", "judge said so") if item.id == items[1].id else None

    scored, m = score_responses("vlm4d", items, responses, errors, judge=judge)
    assert calls == [items[1].id, items[2].id]  # only the unparsed responses reach the judge
    by_id = {s.id: s for s in scored}
    assert by_id[items[1].id].judged and by_id[items[1].id].correct and by_id[items[1].id].rule == "judge"
    assert not by_id[items[2].id].judged and by_id[items[2].id].rule == "unparsed"
    assert by_id[items[3].id].rule == "error" and by_id[items[3].id].error.startswith("HTTP 500")
    o = m["overall"]
    assert (o["n"], o["correct"], o["judged"], o["unparsed"], o["errors"], o["missing"]) == (6, 2, 1, 1, 1, 2)
    assert m["unknown_prediction_ids"] == 1

    def broken_judge(item, response):
        raise TimeoutError("judge server down")

    scored, m = score_responses("vlm4d", items, responses, judge=broken_judge)
    assert "judge_error" in scored[1].extra and m["overall"]["n"] == 6


def test_read_predictions_tolerates_a_crashed_writer(tmp_path, capsys):
    p = tmp_path / "pred.jsonl"
    p.write_text('{"id": "a", "response": "A"}\n'
                 'not json at all\n'
                 '{"id": "b", "error": "timeout"}\n'
                 '{"id": "c", "response": "B"}\n'
                 '{"id": "a", "response": "C"}\n'
                 '{"id": "b", "response": "D"}\n'
                 '{"id": "d"}\n'
                 '{"id": "e", "resp')
    pf = read_prediction_file(p)
    assert pf.responses == {"a": "C", "b": "D", "c": "B"}
    assert pf.errors == {}
    assert pf.problems[0].startswith(f"{p}:2: not valid JSON")
    assert pf.problems[1].startswith(f"{p}:5: id 'a' answered again") and "line 1" in pf.problems[1]
    assert pf.problems[2].startswith(f"{p}:7: id 'd' has neither")
    assert "8: truncated last line" in pf.problems[3]
    assert len(pf.problems) == 4  # an answer after an error (line 3 -> 6) is a retry, not a problem
    assert read_predictions(p) == pf.responses
    assert ":2: not valid JSON" in capsys.readouterr().err


def test_score_cli_bad_input(tmp_path, capsys):
    rc = qa4d_main(["score", "--benchmark", "vlm4d", "--annotations", str(tmp_path / "nope.json"),
                    "--predictions", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "nope.json: file not found" in capsys.readouterr().err
    rc = qa4d_main(["score", "--benchmark", "vlm5d", "--annotations", str(VLM4D_DIR),
                    "--predictions", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "o")])
    assert rc == 2 and "unknown benchmark 'vlm5d'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- other formats

def test_multispa_scoring(tmp_path):
    b = get_benchmark("multispa")()
    items = b.load(make_multispa(tmp_path / "ms"))
    ids = {it.task: it.id for it in items}
    responses = {
        ids["displacement_vector"]: "The shift is `[110, -190, 1400]` mm.",  # 0.1 m error on 1.52 m: within 20%
        ids["total_distance"]: "About `1.5` m",                              # 1500 vs 1150 mm: 30% off
        ids["yaw_angle"]: "`33` degrees",                                     # 10% off
        ids["x_movement"]: "The camera moved `left`.",
        ids["visual_correspondence_coor_2_coor"]: "It is at [380, 70] in Image-2.",  # 17/1000*640 = 10.9 px < 32 px
    }
    scored, m = score_responses(b, items, responses)
    got = {s.task: s.correct for s in scored}
    assert got == {"displacement_vector": True, "total_distance": False, "yaw_angle": True,
                   "x_movement": True, "visual_correspondence_coor_2_coor": True}
    far = {ids["visual_correspondence_coor_2_coor"]: "[420, 70]"}  # 57/1000*640 = 36.5 px > 32 px
    scored, _ = score_responses(b, items, far)
    assert [s.correct for s in scored if s.task.startswith("visual")] == [False]
    assert m["overall"]["accuracy"] == pytest.approx(4 / 5)
    assert set(m["by_category"]) == {"camera_movement", "visual_correspondence"}


def test_sti_bench_scene_type_groups(tmp_path):
    make_sti_parquet(tmp_path / "qa.parquet")
    b = get_benchmark("sti-bench")()
    items = b.load(tmp_path / "qa.parquet")
    responses = {"sti_0": "B", "sti_1": "A", "sti_2": "The final answer is: D", "sti_3": "E"}
    _, m = score_responses(b, items, responses)
    assert m["by_scene_type"]["Waymo"]["accuracy"] == 0.5 and m["by_scene_type"]["Waymo"]["n"] == 2
    assert m["by_scene_type"]["ScanNet"]["accuracy"] == 1.0
    assert m["by_group"]["Desktop"]["accuracy"] == 0.0
    assert m["by_task"]["Speed & Acceleration"]["accuracy"] == 0.0
    assert m["overall"]["chance"] == pytest.approx(0.2)


def test_vsti_numeric_answers_use_mra(tmp_path):
    (tmp_path / "t.json").write_text(json.dumps(VSTI_RECORDS))
    b = get_benchmark("vsti-bench")()
    items = b.load(tmp_path / "t.json")
    scored, m = score_responses(b, items, {"10": "B", "11": "It is about 2.32 meters away."})
    assert scored[0].correct is True
    assert scored[1].correct is None and scored[1].score == pytest.approx(0.7)  # 16% error: 7 of 10 thresholds
    assert m["overall"]["accuracy"] == pytest.approx(0.85)


def test_qa4d_oracle_scores_one_and_tracks_use_tapvid(tmp_path):
    split = make_qa4d_split(tmp_path)
    b = get_benchmark("qa4d")()
    items = b.load(split)
    oracle = {it.id: json.dumps(it.meta["track"]) if it.answer_format == "track" else it.answer for it in items}
    scored, m = score_responses(b, items, oracle)
    assert m["overall"]["accuracy"] == 1.0 and m["overall"]["unparsed"] == 0
    trk = next(s for s in scored if s.task == "point_tracking")
    assert trk.extra["average_jaccard"] == 1.0 and trk.extra["occlusion_accuracy"] == 1.0
    assert m["by_category"]["tracking"]["tapvid"]["average_jaccard"] == 1.0
    # 0.025 of the width off (6.4 px at 256) and with the occluded frame called visible
    bad = [{"frame": 1, "x": 0.3125, "y": 0.2083, "visible": True}, {"frame": 2, "x": 0.369, "y": 0.229, "visible": True},
           {"frame": 3, "x": 0.01, "y": 0.01, "visible": True}]
    scored, _ = score_responses(b, items, {trk.id: "frame " + "\nframe ".join(
        f"{p['frame']}: ({p['x']}, {p['y']}) visible" for p in bad)})
    t = next(s for s in scored if s.id == trk.id)
    assert t.extra["occlusion_accuracy"] == 0.5          # query frame excluded: frames 2 and 3
    assert t.extra["pts_within_8"] == 1.0 and t.extra["pts_within_4"] == 0.0
    assert t.extra["jaccard_8"] == 0.5                    # 1 true positive / (1 visible + 1 false positive)
    assert t.score == pytest.approx(np.mean([0, 0, 0, 0.5, 0.5]))


def test_write_score_outputs_never_writes_nan(tmp_path):
    items = get_benchmark("vlm4d")().load(VLM4D_DIR / "synthetic_mc.json")[:2]
    scored, m = score_responses("vlm4d", items, {})
    m["overall"]["weird"] = float("nan")
    write_score_outputs(tmp_path, scored, m)
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and json.loads(text)["overall"]["weird"] is None


def test_score_cli_starts_numpy_without_a_blas_thread_pool(tmp_path):
    """`qa4d score` asks OpenBLAS for one thread when it imports NumPy itself (scoring does no
    matrix work; idle BLAS workers only burn CPU), and keeps a user's own setting."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    pred = tmp_path / "p.jsonl"
    pred.write_text(json.dumps({"id": "real_mc/validation_1", "response": "B"}) + "\n")
    code = ("import os, sys; from qa4d.cli import main; "
            f"rc = main(['score', '--benchmark', 'vlm4d', '--annotations', {str(VLM4D_DIR)!r}, '--predictions', "
            f"{str(pred)!r}, '--out', {str(tmp_path / 'o')!r}]); "
            "print(rc, 'numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'), file=sys.stderr)")
    src = str(Path(__file__).resolve().parents[2] / "src")
    for given, want in ((None, "1"), ("3", "3")):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        env["PYTHONPATH"] = os.pathsep.join([src, env.get("PYTHONPATH", "")])
        if given is not None:
            env["OPENBLAS_NUM_THREADS"] = given
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stderr.strip().splitlines()[-1] == f"0 True {want}", out.stderr
