"""`qa4d generate` validates every scene first: each kind of broken scene in the catalogue
(tests/scene/broken_scenes.py) is skipped with its reason, and the good scenes' dataset is
byte-identical to the one made from the good scenes alone."""

import json
import shutil
from pathlib import Path

from qa4d.engine.config import GenerateConfig
from qa4d.engine.generate import generate
from tests.scene.broken_scenes import KINDS, make_broken


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def cfg(scenes, out, **kw) -> GenerateConfig:
    # the settings of the session fixture `toy_dataset` (tests/engine/conftest.py)
    return GenerateConfig(scenes=str(scenes), out=str(out), **{"seed": 0, "bench_fraction": 0.5, "media_frames": 6, **kw})


def test_every_broken_kind_is_skipped_and_good_output_is_unchanged(toy_scenes, toy_dataset, tmp_path):
    scenes = tmp_path / "scenes"
    shutil.copytree(toy_scenes, scenes, symlinks=True)
    good = sorted(p.name for p in scenes.iterdir() if p.is_dir())
    for kind in KINDS:  # each a copy of a good scene (own scene_id) broken in one way
        make_broken(toy_scenes / "toy000", scenes / kind.id, kind)
    messages: list[str] = []
    out = tmp_path / "ds"
    summary = generate(cfg(scenes, out), log=messages.append)

    problems = {Path(b["scene"]).name: b.get("problems", [b["error"]]) for b in summary.broken}
    assert set(problems) == {k.id for k in KINDS}
    for kind in KINDS:
        assert any(p.startswith(f"{kind.field}: ") for p in problems[kind.id]), (kind.id, problems[kind.id])
        assert any(f"{kind.id}: skipped, " in m for m in messages), kind.id
    info = json.loads((out / "dataset.json").read_text())
    assert sum(info["scene_skips"].values()) == len(KINDS)
    assert len(info["broken_scenes"]) == len(KINDS)
    assert sorted(info["splits"]["train"]["scenes"] + info["splits"]["bench"]["scenes"]) == good

    # the good scenes give the same bytes as without the broken ones beside them
    for split in ("train", "bench"):
        assert (out / split / "samples.jsonl").read_bytes() == (toy_dataset / split / "samples.jsonl").read_bytes()
    assert tree(out / "media") == tree(toy_dataset / "media")


def test_no_file_outside_a_scene_is_copied(toy_scenes, tmp_path):
    """A frame entry pointing at a readable image outside the scene never reaches the dataset."""
    scenes = tmp_path / "scenes"
    kinds = [k for k in KINDS if k.id in ("frame_entry_parent", "frame_entry_absolute", "frame_symlink_outside")]
    for kind in kinds:
        make_broken(toy_scenes / "toy000", scenes / kind.id, kind)
    shutil.copytree(toy_scenes / "toy001", scenes / "toy001")
    out = tmp_path / "ds"
    generate(cfg(scenes, out, tasks=["camera_movement", "depth"]), log=lambda m: None)
    media_scenes = sorted(p.name for p in (out / "media").iterdir())
    assert media_scenes == ["toy001"]


def test_two_scenes_with_one_id_are_both_skipped(toy_scenes, tmp_path):
    scenes = tmp_path / "scenes"
    shutil.copytree(toy_scenes, scenes)
    shutil.copytree(toy_scenes / "toy003", scenes / "toy003_twin")  # same scene_id "toy003"
    alone = tmp_path / "alone"
    shutil.copytree(toy_scenes, alone)
    shutil.rmtree(alone / "toy003")
    tasks = ["camera_movement", "depth", "object_direction"]
    summary = generate(cfg(scenes, tmp_path / "d", tasks=tasks), log=lambda m: None)
    ref = generate(cfg(alone, tmp_path / "ref", tasks=tasks), log=lambda m: None)
    assert ref.broken == []
    assert sorted(Path(b["scene"]).name for b in summary.broken) == ["toy003", "toy003_twin"]
    assert all("is also the scene_id of" in b["error"] for b in summary.broken)
    for split in ("train", "bench"):
        data = (tmp_path / "d" / split / "samples.jsonl").read_bytes()
        assert b'"toy003' not in data
        assert data == (tmp_path / "ref" / split / "samples.jsonl").read_bytes()
