import json
import math

import pytest

from qa4d.dataset import write_samples

from qa4d.engine.writer import (
    MediaWriter, frame_media_path, prompt_media_path, record_line, safe_name, write_bytes_atomic,
)
from qa4d.scene.format import load_scene
from tests.engine import toy


def test_safe_name():
    assert safe_name("scene 1/task/00001-002") == "scene_1_task_00001-002"
    assert safe_name("///") == "_"


def test_atomic_write_leaves_no_temporary(tmp_path):
    p = tmp_path / "a" / "b.bin"
    write_bytes_atomic(p, b"123")
    write_bytes_atomic(p, b"4567")
    assert p.read_bytes() == b"4567"
    assert [x.name for x in p.parent.iterdir()] == ["b.bin"]


def test_record_line_rejects_nan():
    assert json.loads(record_line({"a": [1.5, None]})) == {"a": [1.5, None]}
    with pytest.raises(ValueError):
        record_line({"a": math.nan})


def test_samples_file_one_record_per_line(tmp_path):
    p = tmp_path / "train" / "samples.jsonl"
    n = write_samples(p, [{"id": "x", "q": "a\nb"}, {"id": "y"}], validate=False)
    lines = p.read_text().splitlines()
    assert n == 2 and len(lines) == 2 and json.loads(lines[0])["q"] == "a\nb"


def test_media_writer_shares_frames_and_skips_existing(tmp_path):
    scene = load_scene(toy.build(toy.ToyScene("w", [toy.ToyObject("red", (0, 0, 0.35))], frames=3), tmp_path / "s"))
    out = tmp_path / "ds"
    mw = MediaWriter(out, scene, 90)
    rel = mw.shared_frame(1)
    assert rel == frame_media_path("w", 1) and (out / rel).is_file()
    first = (out / rel).read_bytes()
    mw.shared_frame(1)
    assert mw.written == 1 and mw.skipped == 1
    prel = mw.prompted_frame(1, "w/depth/1", 0, [{"cx": 32, "cy": 32, "r": 10, "colour": "red"}])
    assert prel == prompt_media_path("w", "w/depth/1", 0)
    assert (out / prel).read_bytes() != first            # the prompt is drawn
    # a second writer (a resumed run) produces identical bytes
    (out / rel).unlink()
    MediaWriter(out, scene, 90).shared_frame(1)
    assert (out / rel).read_bytes() == first
