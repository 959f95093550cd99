"""`qa4d train teacher`: per-modality losses, lower after training, a loadable frozen teacher with
the L4P head widths, and the python:MODULE:CALLABLE plug-in."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    from qa4d.cli import main

    out = tmp_path_factory.mktemp("scenes")
    assert main(["simulate", "--out", str(out), "--scenes", "2", "--frames", "8", "--size", "32", "--seed", "1"]) == 0
    return out


def make_plugin():
    from qa4d.nn.teacher import Teacher, TeacherConfig

    torch.manual_seed(5)
    return Teacher(TeacherConfig(input_size=32, patch=8, dim=8))


def test_teacher_trains_every_head_and_loads_frozen(scenes, tmp_path):
    from qa4d.cli import main
    from qa4d.nn.teacher import MODALITIES, frames_tensor, load_teacher

    run = tmp_path / "t"
    assert main(["train", "teacher", "--scenes", str(scenes), "--out", str(run), "--input-size", "32", "--dim", "16",
                 "--max-steps", "30", "--batch-size", "2", "--lr", "3e-3", "--threads", "1"]) == 0
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    assert len(rows) == 30 and set(rows[0]) >= {"depth", "flow", "motion", "camray", "loss"}
    first, last = rows[0], rows[-1]
    for term in ("depth", "flow", "motion", "camray", "loss"):
        assert sum(r[term] for r in rows[-5:]) < sum(r[term] for r in rows[:5]), term
    assert first["loss"] == pytest.approx(sum(first[k] for k in MODALITIES))
    teacher = load_teacher(run)
    assert all(not p.requires_grad for p in teacher.parameters())
    from qa4d.scene.format import iter_scene_dirs, load_scene
    scene = load_scene(next(iter_scene_dirs(scenes)))
    frames = frames_tensor([scene.frame(t) for t in range(3)], 32)
    latent = teacher.encode(frames)
    assert latent.shape == (3, 16, 4, 4)
    out = teacher.predict(latent)
    assert {k: tuple(v.shape) for k, v in out.items()} == {k: (3, c, 32, 32) for k, c in MODALITIES.items()}
    assert (out["depth"] > 0).all() and ((out["motion"] >= 0) & (out["motion"] <= 1)).all()
    assert last["step"] == 30


def test_plugin_teacher_and_clear_errors(tmp_path):
    from qa4d.nn.teacher import load_teacher

    t = load_teacher("python:tests.train.test_teacher:make_plugin")
    assert t.input_size == 32 and not any(p.requires_grad for p in t.parameters())
    with pytest.raises(SystemExit, match="no teacher.json"):
        load_teacher(tmp_path)
    with pytest.raises(SystemExit, match="python:MODULE:CALLABLE"):
        load_teacher("python:no_such_module_xyz:f")
