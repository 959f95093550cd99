import json
import shutil

import numpy as np
import pytest

from qa4d.cli import main
from qa4d.scene import save_npz
from qa4d.scene.format import decode_array
from qa4d.scene.validate import validate_scene


def load_arrays(scene_dir):
    """The arrays as the format defines them (stored encodings undone: scene.json array_encodings)."""
    encodings = json.loads((scene_dir / "scene.json").read_text()).get("array_encodings", {})
    with np.load(scene_dir / "arrays.npz") as z:
        return {k: decode_array(k, z[k], encodings.get(k)) for k in z.files}


def edit_arrays(scene_dir, fn):
    arrays = load_arrays(scene_dir)
    fn(arrays)
    save_npz(scene_dir / "arrays.npz", arrays)  # every member plain now
    edit_meta(scene_dir, lambda meta: meta.pop("array_encodings", None))


def edit_meta(scene_dir, fn):
    meta = json.loads((scene_dir / "scene.json").read_text())
    fn(meta)
    (scene_dir / "scene.json").write_text(json.dumps(meta))


def test_valid_scene_has_no_problems(toy_scene_dir):
    assert validate_scene(toy_scene_dir) == []


def _rot_not_rigid(a):
    a["cam_to_world"][1, :3, :3] *= 1.5


def _nan_pose(a):
    a["cam_to_world"][2, 0, 3] = np.nan


def _neg_depth(a):
    a["depth"][1, 3, 4] = -0.5


def _unknown_mask_id(a):
    a["instance_mask"][0, 0, 0] = 9


def _wrong_dtype(a):
    a["depth"] = a["depth"].astype(np.float64)


def _wrong_shape(a):
    a["intrinsics"] = a["intrinsics"][:3]


def _missing_required(a):
    del a["cam_to_world"]


def _partial_nan_object_pose(a):
    a["object_to_world"][0, 1, 0, 0] = np.nan


def _visible_without_pose(a):
    a["object_to_world"][0, 1] = np.nan


def _track_owner_unknown(a):
    a["tracks_object"][0] = 5


def _tracks_incomplete(a):
    del a["tracks_visible"]


@pytest.mark.parametrize(
    "breaker, field, words",
    [
        (_rot_not_rigid, "cam_to_world", "not a rigid transform"),
        (_nan_pose, "cam_to_world", "NaN"),
        (_neg_depth, "depth", "negative"),
        (_unknown_mask_id, "instance_mask", "no object"),
        (_wrong_dtype, "depth", "dtype float64, expected float32"),
        (_wrong_shape, "intrinsics", "shape (3, 3, 3), expected (T=4, 3, 3)"),
        (_missing_required, "cam_to_world", "missing"),
        (_partial_nan_object_pose, "object_to_world", "partly NaN"),
        (_visible_without_pose, "object_visible", "pose is unknown"),
        (_track_owner_unknown, "tracks_object", "no object"),
        (_tracks_incomplete, "tracks_*", "go together"),
    ],
)
def test_each_broken_array_is_named(toy_scene_dir, breaker, field, words):
    edit_arrays(toy_scene_dir, breaker)
    problems = validate_scene(toy_scene_dir)
    assert any(p.field == field and words in p.message for p in problems), problems


@pytest.mark.parametrize(
    "breaker, field, words",
    [
        (lambda m: m.update(num_frames=5), "num_frames", "lists 4"),
        (lambda m: m.update(world_up=[0, 0, 2]), "world_up", "unit vector"),
        (lambda m: m["objects"][0].update(id=0), "objects[0].id", ">= 1"),
        (lambda m: m.pop("fps"), "fps", "missing"),
        (lambda m: m.update(format="other"), "format", "expected"),
        (lambda m: m["objects"].append(dict(m["objects"][0], id=2)), "objects", "repeated"),
        (lambda m: m.update(width=40), "frames[0]", "32x24"),
    ],
)
def test_each_broken_metadata_field_is_named(toy_scene_dir, breaker, field, words):
    edit_meta(toy_scene_dir, breaker)
    problems = validate_scene(toy_scene_dir)
    assert any(p.field == field and words in p.message for p in problems), problems


def test_missing_and_corrupt_frames(toy_scene_dir):
    (toy_scene_dir / "frames/000001.png").unlink()
    (toy_scene_dir / "frames/000002.png").write_bytes(b"not a png")
    fields = {p.field: p.message for p in validate_scene(toy_scene_dir)}
    assert "missing" in fields["frames[1]"]
    assert "not a readable image" in fields["frames[2]"]


def test_corrupt_npz_is_reported_not_raised(toy_scene_dir):
    (toy_scene_dir / "arrays.npz").write_bytes(b"garbage")
    [problem] = validate_scene(toy_scene_dir)
    assert problem.field == "arrays.npz" and "not an .npz (zip) archive" in problem.message


def test_cli_reports_bad_scene_and_goes_on(toy_scene_dir, capsys):
    root = toy_scene_dir.parent
    for name in ("b_bad", "c_good"):
        shutil.copytree(toy_scene_dir, root / name)
        edit_meta(root / name, lambda m, name=name: m.update(scene_id=name))
    edit_arrays(root / "b_bad", _neg_depth)
    (root / "d_broken").mkdir()  # no scene.json at all
    code = main(["validate", str(root)])
    out = capsys.readouterr()
    assert code == 1
    assert "b_bad: depth: negative" in out.out
    assert "d_broken: scene.json: missing" in out.out
    assert "2 of 4 scenes valid" in out.err


def test_cli_exit_zero_for_valid(toy_scene_dir, capsys):
    assert main(["validate", str(toy_scene_dir)]) == 0


def test_distinct_ids_by_counting_equal_numpy_unique():
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    from qa4d.scene.validate import _distinct

    values = st.integers(-3, 70000) | st.integers(-(2**31), 2**31 - 1)

    @settings(max_examples=200, deadline=None)
    @given(arrays(st.sampled_from([np.int32, np.int64]), st.integers(0, 300), elements=values))
    def check(a):
        assert _distinct(a).tolist() == np.unique(a).tolist()

    check()
