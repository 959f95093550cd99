import hashlib
import json

import numpy as np
import pytest

from qa4d.scene import SceneError, load_scene, save_npz, write_scene

from .conftest import toy_meta, toy_scene_arrays


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_round_trip_keeps_metadata_arrays_and_frames(toy_scene_dir):
    scene = load_scene(toy_scene_dir)
    assert scene.scene_id == "toy" and scene.num_frames == 4
    assert scene.objects[0].caption == "the small red cube"
    assert scene.meta.frames == [f"frames/{t:06d}.png" for t in range(4)]
    np.testing.assert_array_equal(scene.tracks_object, [1, 0, 0])
    assert scene.cam_to_world.dtype == np.float64 and scene.depth.dtype == np.float32
    assert scene.frame(2)[0, 0, 0] == 80
    assert scene.object_index(1) == 0
    with pytest.raises(KeyError):
        scene.object_index(7)


def test_writes_are_byte_identical(tmp_path):
    paths = []
    for name in ("a", "b"):
        frames = [np.full((24, 32, 3), 9, np.uint8)] * 4
        paths.append(write_scene(tmp_path / name, toy_meta(), toy_scene_arrays(), frames))
    for rel in ("arrays.npz", "scene.json", "frames/000003.png"):
        assert digest(paths[0] / rel) == digest(paths[1] / rel)


def test_save_npz_sorted_and_reloadable(tmp_path):
    save_npz(tmp_path / "x.npz", {"b": np.arange(3), "a": np.ones((2, 2), np.float32)})
    with np.load(tmp_path / "x.npz") as z:
        assert z.files == ["a", "b"]
        np.testing.assert_array_equal(z["b"], [0, 1, 2])


def test_missing_array_and_bad_meta_raise_scene_error(toy_scene_dir):
    scene = load_scene(toy_scene_dir)
    with pytest.raises(SceneError, match="missing array 'nope'"):
        scene.array("nope")
    meta = json.loads((toy_scene_dir / "scene.json").read_text())
    meta["format"] = "qa4d.scene/0"
    (toy_scene_dir / "scene.json").write_text(json.dumps(meta))
    with pytest.raises(SceneError, match="format"):
        load_scene(toy_scene_dir)


def test_failed_write_leaves_no_partial_scene(tmp_path):
    arrays = toy_scene_arrays()
    arrays["intrinsics"] = object()  # cannot be cast: the write must fail cleanly
    with pytest.raises(Exception):
        write_scene(tmp_path / "s", toy_meta(), arrays, None)
    assert list(tmp_path.iterdir()) == []
