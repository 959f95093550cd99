"""Every kind of broken scene in the catalogue (broken_scenes.py) is rejected by `qa4d validate`
with exit code 1 and a problem line naming the broken field; no kind raises."""

import numpy as np
import pytest

from qa4d.cli import main
from qa4d.scene import SceneError, load_scene
from tests.scene.broken_scenes import KINDS, make_broken, write_meta, read_meta

PATH_KINDS = [k for k in KINDS if k.id.startswith(("frame_entry_absolute", "frame_entry_parent", "frame_entry_deep",
                                                    "frame_entry_other", "frame_symlink", "frames_dir_symlink"))]


def test_catalogue_is_large_and_ids_are_readable():
    assert len(KINDS) >= 100
    assert len({k.id for k in KINDS}) == len(KINDS)
    assert all(k.id.replace("_", "").isalnum() for k in KINDS)


@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_validate_rejects_each_kind_naming_the_field(kind, toy_scene_dir, tmp_path, capsys):
    scene = make_broken(toy_scene_dir, tmp_path / "scenes" / kind.id, kind)
    code = main(["validate", str(scene)])
    out = capsys.readouterr()
    assert code == 1, out
    lines = out.out.splitlines()
    assert any(line.startswith(f"{scene}: {kind.field}: ") for line in lines), (kind.field, lines)
    assert "Traceback" not in out.err


@pytest.mark.parametrize("kind", PATH_KINDS, ids=str)
def test_frame_paths_leaving_the_scene_are_refused_as_such(kind, toy_scene_dir, tmp_path, capsys):
    """The outside file exists and is a valid frame: it is refused for where it is, not read."""
    scene = make_broken(toy_scene_dir, tmp_path / "scenes" / kind.id, kind)
    main(["validate", str(scene)])
    [line] = [x for x in capsys.readouterr().out.splitlines() if f": {kind.field}: " in x]
    assert "inside the scene" in line, line


def test_every_kind_breaks_the_scene_it_is_given(toy_scene_dir, tmp_path):
    """Sanity of the catalogue: the unbroken copy is valid, so each rejection is the kind's doing."""
    from tests.scene.broken_scenes import Kind

    noop = Kind("noop", "", lambda d: None)
    scene = make_broken(toy_scene_dir, tmp_path / "noop", noop)
    assert main(["validate", str(scene)]) == 0


@pytest.mark.parametrize("entry", ["../outside.png", "/etc/hostname", "frames/../../outside.png"])
def test_scene_loader_refuses_frame_paths_outside_the_scene(toy_scene_dir, entry):
    (toy_scene_dir.parent / "outside.png").write_bytes((toy_scene_dir / "frames/000000.png").read_bytes())
    meta = read_meta(toy_scene_dir)
    meta["frames"][1] = entry
    write_meta(toy_scene_dir, meta)
    scene = load_scene(toy_scene_dir)
    assert scene.frame(0).shape == (24, 32, 3)
    with pytest.raises(SceneError, match=r"frames\[1\]"):
        scene.frame(1)


def test_scene_loader_refuses_symlink_leaving_the_scene(toy_scene_dir):
    outside = toy_scene_dir.parent / "outside.png"
    (toy_scene_dir / "frames/000002.png").rename(outside)
    (toy_scene_dir / "frames/000002.png").symlink_to(outside)
    scene = load_scene(toy_scene_dir)
    with pytest.raises(SceneError, match=r"frames\[2\].*outside"):
        scene.frame(2)
    # a symlink that stays inside the scene is fine
    (toy_scene_dir / "frames/000002.png").unlink()
    (toy_scene_dir / "frames/000002.png").symlink_to("000001.png")
    assert np.array_equal(load_scene(toy_scene_dir).frame(2), load_scene(toy_scene_dir).frame(1))


def test_duplicate_scene_ids_are_a_problem_of_each_scene(toy_scene_dir, tmp_path, capsys):
    import shutil

    root = toy_scene_dir.parent
    shutil.copytree(toy_scene_dir, root / "toy_copy")
    code = main(["validate", str(root)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert any(x.startswith(f"{root / 'toy'}: scene_id: 'toy' is also the scene_id of {root / 'toy_copy'}") for x in out)
    assert any(x.startswith(f"{root / 'toy_copy'}: scene_id: 'toy' is also the scene_id of {root / 'toy'}") for x in out)


def test_no_frames_still_refuses_paths_outside_the_scene(toy_scene_dir, capsys):
    (toy_scene_dir / "frames/000001.png").unlink()  # not looked at with --no-frames
    meta = read_meta(toy_scene_dir)
    meta["frames"][2] = "../elsewhere.png"
    write_meta(toy_scene_dir, meta)
    assert main(["validate", "--no-frames", str(toy_scene_dir)]) == 1
    out = capsys.readouterr().out
    assert ": frames[2]: " in out and "frames[1]" not in out


def test_parallel_check_reports_the_same_problems_in_the_same_order(toy_scene_dir, tmp_path, capsys):
    from tests.scene.broken_scenes import KINDS as kinds

    root = tmp_path / "many"
    for kind in kinds[::7]:
        make_broken(toy_scene_dir, root / kind.id, kind)
    assert main(["validate", "-q", str(root)]) == 1
    serial = capsys.readouterr().out
    assert main(["validate", "-q", "--workers", "2", str(root)]) == 1
    assert capsys.readouterr().out == serial
    assert len({line.split(":")[0] for line in serial.splitlines()}) == len(kinds[::7])
