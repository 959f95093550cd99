"""Partial scenes (converted real data): unknown track owners and non-rigid objects."""

from __future__ import annotations

import json

import numpy as np

from qa4d.scene import SceneObject, load_scene, write_scene
from qa4d.scene.format import TRACK_OWNER_UNKNOWN
from qa4d.scene.validate import validate_scene
from tests.scene.conftest import toy_meta, toy_scene_arrays


def write(tmp_path, arrays=None, rigid=True):
    meta = toy_meta()
    meta.objects = [SceneObject(1, "person", "the walking person", rigid=rigid)]
    frames = [np.full((24, 32, 3), 40 * t, np.uint8) for t in range(4)]
    return write_scene(tmp_path / "s", meta, arrays if arrays is not None else toy_scene_arrays(), frames)


def problems(d):
    return [f"{p.field}: {p.message}" for p in validate_scene(d)]


def test_unknown_track_owner_is_valid_but_other_negatives_are_not(tmp_path):
    a = toy_scene_arrays()
    a["tracks_object"] = np.array([TRACK_OWNER_UNKNOWN, 0, 1], np.int32)
    assert problems(write(tmp_path, a)) == []
    a["tracks_object"] = np.array([-2, 0, 1], np.int32)
    assert any(p.startswith("tracks_object") and "-2" in p for p in problems(write(tmp_path, a)))


def test_non_rigid_object_is_visible_without_pose(tmp_path):
    a = toy_scene_arrays()
    a["object_to_world"][:] = np.nan
    a["object_extent"][:] = np.nan
    # rigid: a visible object needs a pose and a positive extent
    got = problems(write(tmp_path, a))
    assert any(p.startswith("object_visible") for p in got) and any(p.startswith("object_extent") for p in got)
    d = write(tmp_path, a, rigid=False)
    assert problems(d) == []
    meta = json.loads((d / "scene.json").read_text())
    assert meta["objects"][0]["rigid"] is False and load_scene(d).objects[0].rigid is False


def test_non_rigid_object_with_a_pose_is_refused(tmp_path):
    got = problems(write(tmp_path, toy_scene_arrays(), rigid=False))
    assert got == ['object_to_world: object 0 is non-rigid ("rigid": false) but has a pose; '
                   "a deforming object's pose must be all NaN"]


def test_rigid_objects_keep_the_v1_bytes(tmp_path):
    d = write(tmp_path)
    assert "rigid" not in json.loads((d / "scene.json").read_text())["objects"][0]


def test_rigid_must_be_boolean(tmp_path):
    d = write(tmp_path)
    meta = json.loads((d / "scene.json").read_text())
    meta["objects"][0]["rigid"] = "no"
    (d / "scene.json").write_text(json.dumps(meta))
    assert any(p.startswith("objects[0].rigid") for p in problems(d))


def test_wrong_dtypes_are_reported_not_raised(tmp_path):
    a = toy_scene_arrays()
    d = write(tmp_path, a, rigid=False)

    with np.load(d / "arrays.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["object_to_world"] = arrays["object_to_world"].astype(np.int64)
    arrays["object_extent"] = arrays["object_extent"].astype(np.int64)
    from qa4d.scene import save_npz
    save_npz(d / "arrays.npz", arrays)
    got = problems(d)
    assert any(p.startswith("object_to_world: has dtype") for p in got)
