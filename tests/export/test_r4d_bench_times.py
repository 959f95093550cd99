"""r4d-bench export: a video starts at 0 s, so the times an r4d / sti question states ("At 1.25 s
(frame 4)", seconds of the scene in the record) are re-based to the video's clock. Read back from
the exported files: each stated time is the time of a decoded video frame, and that frame is the
scene frame the question is about (compared by pixels with the scene's own image)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from qa4d.bench.media import sample_video
from qa4d.dataset import read_samples
from qa4d.export.formats.r4d_bench import rebase_times
from qa4d.export.formats import ExportError
from qa4d.scene import load_scene
from tests.engine.toy import ToyObject, ToyScene, build

FRAMES, SIZE = 30, 96


def cli(*args):
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A ball crossing the view at 0.08 m per frame beside a still one (every frame looks
    different), 30 frames at 10 fps; r4d questions on 10-frame segments, so most segments start
    well after 0 s."""
    root = tmp_path_factory.mktemp("r4d_times")
    spec = ToyScene("toy_times", [ToyObject("red", (-1.2, 0.0, 0.5), (0.08, 0.0, 0.0)), ToyObject("blue", (1.5, 1.0, 0.5))],
                    frames=FRAMES, size=SIZE, eye=(0.0, -6.0, 0.5), target=(0.0, 0.0, 0.5))
    build(spec, root / "scenes")
    r = cli("generate", "--scenes", str(root / "scenes"), "--out", str(root / "ds"), "--families", "r4d",
            "--tasks", "displacement_path_length", "dimension_measurement", "speed_acceleration",
            "--segment-frames", "10", "--media-frames", "5", "--segments-per-scene", "3",
            "--samples-per-segment", "3", "--bench-fraction", "0", "--seed", "1")
    assert r.returncode == 0, r.stderr
    r = cli("export", str(root / "ds"), "--format", "r4d-bench", "--split", "train", "--out", str(root / "out"))
    assert r.returncode == 0, r.stderr
    return root


def test_stated_times_are_times_of_the_video_frames_they_name(exported):
    root = exported
    scene = load_scene(root / "scenes" / "toy_times")
    recs = {r["id"]: r for r in read_samples(root / "ds" / "train" / "samples.jsonl")}
    rows = json.loads((root / "out" / "train.json").read_text())
    assert rows
    shifted = 0
    for row in rows:
        rec = recs[row["id"]]
        stated_frames = rec["meta"]["item"]["frames"]         # scene frames the question is about
        fr = sample_video(root / "out" / row["video"], None)  # every frame, times from the video's start
        video_times = np.asarray(fr.timestamps)
        times = [float(t) for t in re.findall(r"([0-9]+\.[0-9]{2}) s \(", row["question"])]
        assert len(times) == len(set(stated_frames)) >= 1, row["question"]
        for t, f in zip(times, sorted(set(stated_frames))):
            # the stated time is a video frame's time (2 decimals) ...
            k = int(np.argmin(np.abs(video_times - t)))
            assert abs(video_times[k] - t) <= 0.005 + 1e-6, (t, video_times)
            # ... and that frame shows scene frame f: closer in pixels to it than to any other shown frame
            img = np.asarray(fr.images[k], dtype=float)
            shown = rec["frame_indices"][1:]   # the video: every image but the marked one
            err = {g: np.abs(img - scene.frame(g)[: img.shape[0], : img.shape[1]].astype(float)).mean() for g in shown}
            assert min(err, key=err.get) == f, (t, f, err)
            shifted += abs(t - f / scene.meta.fps) > 0.05
        # the record keeps the scene's clock; only the exported question is re-based
        assert rec["timestamps"][1] == pytest.approx(rec["frame_indices"][1] / scene.meta.fps)
        assert row["question"] == rebase_times(rec["question"], rec["meta"]["time_window"], rec["timestamps"][1])
    assert shifted >= 1   # some segments start after 0 s: the re-basing was needed and done


def test_rebase_times_rewrites_only_the_stated_window():
    q = "From 1.20 s (frame 2) to 2.50 s (frame 4), what is the speed of <obj_1>? Options near 1.20 m/s."
    assert rebase_times(q, [1.2, 2.5], 1.2) == \
        "From 0.00 s (frame 2) to 1.30 s (frame 4), what is the speed of <obj_1>? Options near 1.20 m/s."
    assert rebase_times(q, None, 1.2) == q
    with pytest.raises(ExportError, match="does not state 3.00 s"):
        rebase_times(q, [1.2, 3.0], 1.2, "r/1")
