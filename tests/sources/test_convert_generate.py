"""Generation from converted scenes of several sources: per-source report, partial scenes."""

from __future__ import annotations

import json

import numpy as np

from qa4d.cli import main
from qa4d.scene import load_scene, write_scene
from qa4d.sources.converters.kubric import flatten_example
from tests.sources import test_convert_kubric as kub
from tests.sources import test_convert_tapvid3d as tv
from tests.sources.convert_helpers import validate_ok


def records(ds):
    return [json.loads(line) for s in ("train", "bench") for line in (ds / s / "samples.jsonl").read_text().splitlines()]


def test_per_source_report(tmp_path, capsys):
    tv.write_clip(tmp_path / "src" / "adt" / "a.npz")
    np.savez(tmp_path / "k.npz", **flatten_example(kub.tfds_example()))
    scenes = tmp_path / "scenes"
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "src"), "--out", str(scenes)]) == 0
    assert main(["convert", "--from", "kubric", str(tmp_path / "k.npz"), "--out", str(scenes)]) == 0
    assert main(["generate", "--scenes", str(scenes), "--out", str(tmp_path / "ds"), "--seed", "0"]) == 0
    err = capsys.readouterr().err
    info = json.loads((tmp_path / "ds" / "dataset.json").read_text())["by_source"]
    assert set(info) == {"kubric", "tapvid3d"} and info["kubric"]["scenes"] == info["tapvid3d"]["scenes"] == 1
    made = {src: {f"{r['family']}/{r['task']}" for r in records(tmp_path / "ds") if r["scene_id"].startswith(src)} for src in info}
    for src in info:                       # the report counts exactly the records of each source
        assert set(info[src]["counts"]) == made[src]
    camera_and_tracks = {"4dpqa/camera_movement", "4dpqa/visual_point_tracking", "4dpqa/true_motion_point_tracking"}
    assert set(info["tapvid3d"]["counts"]) <= camera_and_tracks < set(info["kubric"]["counts"]) | camera_and_tracks
    assert set(info["kubric"]["counts"]) - camera_and_tracks          # object questions only from kubric
    assert info["tapvid3d"]["skips"]["4dpqa/depth"] == {"scene lacks object_to_world, instance_mask": 1}
    assert "source tapvid3d (1 scenes)" in err and "scene lacks object_to_world" in err
    assert main(["card", str(tmp_path / "ds")]) == 0
    card = (tmp_path / "ds" / "CARD.md").read_text()
    assert "## Counts per source" in card
    assert "| tapvid3d | 4dpqa/depth | 0 | scene lacks object_to_world, instance_mask |" in card
    n = info["tapvid3d"]["counts"]["4dpqa/visual_point_tracking"]
    assert f"| tapvid3d | 4dpqa/visual_point_tracking | {n} |  |" in card


def test_non_rigid_objects_are_left_out_of_object_questions(tmp_path):
    kub.write_worker_dir(tmp_path / "movi" / "00042")
    assert main(["convert", "--from", "kubric", str(tmp_path / "movi"), "--out", str(tmp_path / "s")]) == 0
    assert main(["generate", "--scenes", str(tmp_path / "s"), "--out", str(tmp_path / "d1")]) == 0
    assert any(2 in r["meta"].get("objects", []) for r in records(tmp_path / "d1"))
    s = load_scene(tmp_path / "s" / "kubric_00042")
    arrays = {k: np.array(s.array(k)) for k in s.keys()}
    arrays["object_to_world"][1] = np.nan             # object 2 becomes a deforming object: no pose, no box
    arrays["object_extent"][1] = np.nan
    arrays["tracks_object"][arrays["tracks_object"] == 2] = -1
    meta = s.meta
    meta.objects[1] = type(meta.objects[1])(2, meta.objects[1].category, meta.objects[1].caption, rigid=False)
    frames = [s.frame(t) for t in range(s.num_frames)]
    out = write_scene(tmp_path / "s2" / "kubric_00042", meta, arrays, frames)
    validate_ok(out)
    assert main(["generate", "--scenes", str(tmp_path / "s2"), "--out", str(tmp_path / "d2")]) == 0
    recs = records(tmp_path / "d2")
    assert recs and not any(2 in r["meta"].get("objects", []) for r in recs)
    assert main(["audit", str(tmp_path / "d2")]) == 0
