"""`qa4d export --format r4d-bench`: a generated dataset written in R4D-Bench's layout is read back
by the r4d-bench loader (same questions, options and answers; videos that decode to the record's
frame times) and the oracle scores 1.0 on it; split averages are weighted by item counts."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa4d.bench.benchmarks.base import BenchmarkFormatError
from qa4d.bench.media import sample_video
from qa4d.bench.registry import get_benchmark
from qa4d.bench.scoring import score_responses
from qa4d.dataset import read_samples
from qa4d.export.cli import export_dataset
from qa4d.export.formats.r4d_bench import rgb_to_yuv420p


def cli(*args):
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("r4dx")
    r = cli("simulate", "--out", str(root / "scenes"), "--scenes", "3", "--frames", "24", "--size", "48", "--seed", "5")
    assert r.returncode == 0, r.stderr
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "4dpqa", "timebench",
            "--tasks", "camera_movement", "depth", "elapsed_time", "--bench-fraction", "1.0", "--segment-frames", "24")
    assert r.returncode == 0, r.stderr
    r = cli("export", str(root / "ds"), "--format", "r4d-bench", "--split", "bench", "--out", str(root / "out"))
    assert r.returncode == 0, r.stderr
    return root, r.stdout


def test_export_writes_the_r4d_layout_and_counts_what_it_cannot_hold(exported):
    root, stdout = exported
    recs = {r["id"]: r for r in read_samples(root / "ds" / "bench" / "samples.jsonl")}
    mc = {k: r for k, r in recs.items() if r["answer_format"] == "mc"}
    rows = json.loads((root / "out" / "test.json").read_text())
    assert mc and len(rows) == len(mc) and len(recs) > len(mc)
    assert f"left out {len(recs) - len(mc)} record(s): bench: answer_format yesno" in stdout
    for row in rows:
        rec = mc[row["id"]]
        assert set(row) == {"id", "benchmark", "task", "question", "options", "answer", "video", "som_image"}
        assert row["options"] == [rec["options"][k] for k in sorted(rec["options"])]
        assert row["answer"] == rec["options"][rec["answer"]] and row["question"] == rec["question"]
        assert row["benchmark"] == "qa4d" and row["task"] == rec["task"] and row["som_image"] is None
        # the video holds the record's frames at the record's times (ms resolution)
        fr = sample_video(root / "out" / row["video"], None)
        want = np.asarray(rec["timestamps"]) - rec["timestamps"][0]
        assert fr.source_count == len(rec["media"]) and np.allclose(fr.timestamps, want, atol=1e-3)
        assert fr.images[0].size == (48, 48)
        # the decoded first frame is the record's first image, up to coding loss
        from PIL import Image
        with Image.open(root / "ds" / rec["media"][0]) as im:
            src = np.asarray(im.convert("RGB"), float)
        assert np.abs(np.asarray(fr.images[0], float) - src).mean() < 8.0


def test_export_is_byte_identical_when_repeated(exported, tmp_path):
    root, _ = exported
    export_dataset(root / "ds", "r4d-bench", tmp_path / "again", split="bench")
    files = sorted(p.relative_to(root / "out") for p in (root / "out").rglob("*") if p.is_file())
    assert files and all((root / "out" / f).read_bytes() == (tmp_path / "again" / f).read_bytes() for f in files)


def test_rgb_to_yuv420p_known_colours():
    # BT.601 limited range, by hand: white (235, 128, 128), black (16, 128, 128), pure red
    # Y = 16 + 65.481 = 81.5 -> 81 (rint), U = 128 - 37.797 = 90.2 -> 90, V = 128 + 112 = 240
    for rgb, want in [((255, 255, 255), (235, 128, 128)), ((0, 0, 0), (16, 128, 128)), ((255, 0, 0), (81, 90, 240))]:
        img = np.zeros((4, 6, 3), np.uint8) + np.array(rgb, np.uint8)
        yuv = rgb_to_yuv420p(img)
        assert yuv.shape == (6, 6)
        y, u, v = yuv[:4].ravel(), yuv[4:].ravel()[:6], yuv[4:].ravel()[6:]
        assert set(y) == {want[0]} and set(u) == {want[1]} and set(v) == {want[2]}


def test_round_trip_through_the_loader_scores_1_for_the_oracle(exported):
    root, _ = exported
    items = get_benchmark("r4d-bench")().load(root / "out" / "test.json")
    recs = {r["id"]: r for r in read_samples(root / "ds" / "bench" / "samples.jsonl")}
    assert all(it.answer == recs[it.id]["answer"] and it.prefix_images == [] for it in items)
    prompt = get_benchmark("r4d-bench")().build_prompt(items[0], frames=8)
    assert prompt.startswith("The 8 images are frames") and "Set-of-Marks" not in prompt
    r = cli("eval", "--benchmark", "r4d-bench", "--annotations", str(root / "out" / "test.json"),
            "--media-root", str(root / "out"), "--model", "oracle", "--out", str(root / "run"))
    assert r.returncode == 0, r.stderr
    m = json.loads((root / "run" / "metrics.json").read_text())
    assert m["overall"]["accuracy"] == 1.0 and m["overall"]["n"] == len(items)
    assert set(m["by_category"]) == {"camera_movement", "depth", "elapsed_time"} & {it.task for it in items}


def test_a_record_with_a_set_of_marks_image_exports_it_apart_from_the_video(exported, tmp_path):
    root, _ = exported
    ds = tmp_path / "ds"
    (ds / "bench").mkdir(parents=True)
    shutil.copytree(root / "ds" / "media", ds / "media")
    rec = next(r for r in read_samples(root / "ds" / "bench" / "samples.jsonl") if r["answer_format"] == "mc")
    rec = dict(rec, task="speed_acceleration", meta=dict(rec["meta"], som_image=rec["media"][0],
                                                         source_benchmark="STI-Bench"))
    (ds / "bench" / "samples.jsonl").write_text(json.dumps(rec) + "\n")
    res = export_dataset(ds, "r4d-bench", tmp_path / "out", split="bench")
    assert res.errors == [] and res.counts == {"bench": 1}
    (row,) = json.loads((tmp_path / "out" / "test.json").read_text())
    assert row["som_image"].startswith("som/") and (tmp_path / "out" / row["som_image"]).read_bytes() == \
        (root / "ds" / rec["media"][0]).read_bytes()
    assert sample_video(tmp_path / "out" / row["video"], None).source_count == len(rec["media"]) - 1
    b = get_benchmark("r4d-bench")()
    (item,) = b.load(tmp_path / "out")
    assert item.prefix_images == [row["som_image"]] and item.category == "Speed & Acceleration"
    assert b.groupings(item) == {"source_benchmark": "STI-Bench", "split": "dynamic"}


def test_split_averages_are_weighted_by_item_counts(tmp_path):
    # 3 static items (DM: 2 right of 2; SR: 0 of 1) and 1 dynamic (T: right). Weighted static = 2/3
    # (an unweighted mean of the categories would be 0.5); overall 3/4.
    def rec(i, task, split_ok):
        return {"id": f"q{i}", "benchmark": "STI-Bench", "task": task, "question": "?", "options": ["a", "b"],
                "answer": "a", "video": "v.mp4", "som_image": None, "_ok": split_ok}
    recs = [rec(0, "Dimension Measurement", True), rec(1, "DM", True), rec(2, "spatial_relationship", False),
            rec(3, "Translational", True)]
    (tmp_path / "test.json").write_text(json.dumps([{k: v for k, v in r.items() if k != "_ok"} for r in recs]))
    b = get_benchmark("r4d-bench")()
    items = b.load(tmp_path)
    _, m = score_responses(b, items, {r["id"]: "A" if r["_ok"] else "B" for r in recs})
    assert m["by_category"]["Dimension Measurement"]["n"] == 2
    assert m["by_split"]["static"]["accuracy"] == pytest.approx(2 / 3)
    assert m["by_split"]["dynamic"]["accuracy"] == 1.0 and m["overall"]["accuracy"] == 0.75


def test_som_image_must_be_present_even_if_null(tmp_path):
    row = {"id": "x", "benchmark": "qa4d", "task": "T", "question": "?", "options": ["a", "b"], "answer": "a",
           "video": "v.mp4"}
    (tmp_path / "test.json").write_text(json.dumps([row]))
    with pytest.raises(BenchmarkFormatError, match=r"record 0, field 'som_image': missing"):
        get_benchmark("r4d-bench")().load(tmp_path)
    assert Path(tmp_path / "test.json").exists()


def test_an_image_set_record_is_left_out_not_reported_bad(exported, tmp_path):
    """MultiSPA-style image sets (meta.media_kind "images": Image-1 may be later than Image-2) are
    not clips: counted as left out, while a clip record beside them is exported."""
    root, _ = exported
    ds = tmp_path / "ds"
    (ds / "bench").mkdir(parents=True)
    shutil.copytree(root / "ds" / "media", ds / "media")
    clip = next(r for r in read_samples(root / "ds" / "bench" / "samples.jsonl") if r["answer_format"] == "mc")
    images = dict(clip, id=clip["id"] + "-set", media=clip["media"][::-1][:2],
                  frame_indices=clip["frame_indices"][::-1][:2], timestamps=clip["timestamps"][::-1][:2],
                  meta=dict(clip["meta"], media_kind="images"))
    (ds / "bench" / "samples.jsonl").write_text(json.dumps(clip) + "\n" + json.dumps(images) + "\n")
    res = export_dataset(ds, "r4d-bench", tmp_path / "out", split="bench")
    assert res.errors == [] and res.counts == {"bench": 1}
    assert res.skipped == {"bench: image sets (r4d-bench holds videos only)": 1}
    assert [row["id"] for row in json.loads((tmp_path / "out" / "test.json").read_text())] == [clip["id"]]
