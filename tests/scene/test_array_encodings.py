"""Encoded arrays in arrays.npz (scene.json `array_encodings`): depth as float32 byte planes, the
instance mask as uint8. Exactly the same values come back, scenes written without encodings
still load, and what is stored is what docs/scene-format.md says."""

import hashlib
import io
import json
import struct
import zipfile
import zlib

import numpy as np
import pytest

from qa4d.scene import SceneError, load_scene, write_scene
from qa4d.scene.format import decode_array, save_npz
from qa4d.scene.validate import check_scene, check_scene_arrays

from .conftest import toy_meta, toy_scene_arrays

FRAMES = [np.full((24, 32, 3), 40 * t, np.uint8) for t in range(4)]


def _awkward_depth(t_len=4, h=24, w=32) -> np.ndarray:
    """float32 depth with every kind of bit pattern: zeros, -0.0, subnormals, the largest float,
    inf, NaNs with payloads, and random bits (all must come back bit for bit)."""
    rng = np.random.default_rng(3)
    bits = rng.integers(0, 2**32, size=(t_len, h, w), dtype=np.uint64).astype(np.uint32)
    depth = bits.view(np.float32).copy()
    special = np.array([0.0, -0.0, 1e-45, 1.2e-38, 3.4028235e38, np.inf, -np.inf], dtype=np.float32)
    depth[0, 0, : len(special)] = special
    depth[0, 1, :3] = np.array([0x7FC00001, 0x7F800123, 0xFFFFFFFF], dtype=np.uint32).view(np.float32)  # NaN payloads
    depth[1] = 0.0
    return depth


def _raw_member(npz_path, name):
    """(compression method, raw compressed bytes) of member `name` of a zip, read from its
    local header (independent of zipfile's reader)."""
    with zipfile.ZipFile(npz_path) as zf:
        info = zf.getinfo(name)
    data = npz_path.read_bytes()
    off = info.header_offset
    sig, *_, n_name, n_extra = struct.unpack("<IHHHHHIIIHH", data[off:off + 30])
    assert sig == 0x04034B50
    start = off + 30 + n_name + n_extra
    return info.compress_type, data[start:start + info.compress_size]


def test_depth_round_trips_bit_for_bit_through_write_load_and_validate(tmp_path):
    arrays = toy_scene_arrays()
    arrays["depth"] = _awkward_depth()
    d = write_scene(tmp_path / "s", toy_meta(), arrays, FRAMES)
    assert json.loads((d / "scene.json").read_text())["array_encodings"] == {
        "depth": "byte_planes", "instance_mask": "uint8"}
    depth = load_scene(d).depth
    assert depth.dtype == np.float32 and depth.shape == arrays["depth"].shape
    assert depth.tobytes() == arrays["depth"].tobytes()
    _, checked = check_scene_arrays(d, check_frames=False)
    report = check_scene(d, check_frames=False)
    # the awkward values are not valid depth (negative, inf, NaN): the checker must see them decoded
    assert any(p.field == "depth" and "NaN or inf" in p.message for p in report.problems), report.problems
    assert checked is None
    good = toy_scene_arrays()
    d2 = write_scene(tmp_path / "good", toy_meta(), good, FRAMES)
    report, checked = check_scene_arrays(d2, check_frames=False)
    assert report.ok, report.problems
    for name, arr in good.items():
        assert checked[name].dtype == np.dtype(arr.dtype) and checked[name].tobytes() == arr.tobytes(), name


def test_stored_layout_is_the_documented_one(tmp_path):
    arrays = toy_scene_arrays()
    arrays["depth"] = _awkward_depth()
    d = write_scene(tmp_path / "s", toy_meta(), arrays, FRAMES)
    with np.load(d / "arrays.npz") as z:
        planes, mask = z["depth"], z["instance_mask"]
    t_len, h, w = arrays["depth"].shape
    assert planes.dtype == np.uint8 and planes.shape == (t_len, 4, h, w)
    for t, r, c in [(0, 0, 0), (0, 0, 5), (0, 1, 1), (2, 13, 31), (3, 23, 0)]:
        little = struct.pack("<f", arrays["depth"][t, r, c]) if not np.isnan(arrays["depth"][t, r, c]) else \
            struct.pack("<I", int(arrays["depth"][t, r, c:c + 1].view(np.uint32)[0]))
        assert bytes(planes[t, :, r, c]) == little
    assert mask.dtype == np.uint8 and (mask == arrays["instance_mask"]).all()


def test_every_member_is_an_ordinary_level_1_deflated_npy(tmp_path):
    """Encoded or not, each member is the .npy of what is stored, deflated by zlib at level 1 (the
    raw bytes read from the archive itself), so any zip reader or np.load opens the archive."""
    arrays = toy_scene_arrays()
    arrays["depth"] = _awkward_depth()
    d = write_scene(tmp_path / "s", toy_meta(), arrays, FRAMES)
    with zipfile.ZipFile(d / "arrays.npz") as zf:
        names = zf.namelist()
        members = {n: zf.read(n) for n in names}
    assert names == sorted(names) and "depth.npy" in names
    for name, buf in members.items():
        method, raw = _raw_member(d / "arrays.npz", name)
        c = zlib.compressobj(1, zlib.DEFLATED, -15)
        assert method == zipfile.ZIP_DEFLATED and raw == c.compress(buf) + c.flush(), name
    planes = np.lib.format.read_array(io.BytesIO(members["depth.npy"]))
    assert planes.dtype == np.uint8 and decode_array("depth", planes, "byte_planes").tobytes() == arrays["depth"].tobytes()


def test_scenes_without_encodings_still_load_and_validate(tmp_path):
    arrays = toy_scene_arrays()
    d = write_scene(tmp_path / "old", toy_meta(), arrays, FRAMES, encode=False)
    assert "array_encodings" not in json.loads((d / "scene.json").read_text())
    with np.load(d / "arrays.npz") as z:  # plain .npy members, as every scene before the encodings
        assert z["depth"].dtype == np.float32 and z["instance_mask"].dtype == np.int32
    scene = load_scene(d)
    assert scene.depth.tobytes() == arrays["depth"].tobytes()
    assert scene.instance_mask.dtype == np.int32 and (scene.instance_mask == arrays["instance_mask"]).all()
    assert check_scene(d, check_frames=False).ok


def test_mask_with_ids_beyond_255_stays_int32(tmp_path):
    arrays = toy_scene_arrays()
    arrays["instance_mask"][:, 0, 0] = 300
    meta = toy_meta()
    d = write_scene(tmp_path / "s", meta, arrays, FRAMES)
    assert meta.array_encodings == {"depth": "byte_planes"}
    with np.load(d / "arrays.npz") as z:
        assert z["instance_mask"].dtype == np.int32
    assert (load_scene(d).instance_mask == arrays["instance_mask"]).all()


def test_uint8_input_mask_is_stored_as_uint8_and_read_as_int32(tmp_path):
    arrays = toy_scene_arrays()
    arrays["instance_mask"] = arrays["instance_mask"].astype(np.uint8)
    d = write_scene(tmp_path / "s", toy_meta(), arrays, FRAMES)
    mask = load_scene(d).instance_mask
    assert mask.dtype == np.int32 and mask.sum() == 4 * 16


def test_same_input_same_bytes(tmp_path):
    digests = []
    for name in ("a", "b"):
        arrays = toy_scene_arrays()
        arrays["depth"] = _awkward_depth()
        d = write_scene(tmp_path / name, toy_meta(), arrays, FRAMES)
        digests.append([hashlib.sha256((d / f).read_bytes()).hexdigest() for f in ("arrays.npz", "scene.json")])
    assert digests[0] == digests[1]


def test_byte_planes_of_a_large_array_stream_in_blocks(tmp_path):
    """More rows than one write takes (about 1 MB of planes a write): still the same array."""
    rng = np.random.default_rng(0)
    depth = rng.random((9, 240, 320), dtype=np.float32) * 40
    save_npz(tmp_path / "x.npz", {"depth": depth}, encodings={"depth": "byte_planes"})
    with np.load(tmp_path / "x.npz") as z:
        assert decode_array("depth", z["depth"], "byte_planes").tobytes() == depth.tobytes()


def _rewrite_meta(d, **changes):
    meta = json.loads((d / "scene.json").read_text())
    meta.update(changes)
    (d / "scene.json").write_text(json.dumps(meta))


@pytest.mark.parametrize("encodings, field, words", [
    ({"depth": "zstd"}, "array_encodings", "unknown encoding 'zstd'"),
    ({"rgb": "byte_planes"}, "array_encodings", "'rgb' is not an array of the format"),
    ({"depth": "uint8"}, "array_encodings", "'uint8' is for integer arrays"),
    (["depth"], "array_encodings", "must be an object"),
    ({"cam_to_world": "byte_planes"}, "cam_to_world", "must be uint8, but it is float64"),
])
def test_bad_encodings_are_reported_naming_the_field(tmp_path, encodings, field, words):
    d = write_scene(tmp_path / "s", toy_meta(), toy_scene_arrays(), FRAMES)
    _rewrite_meta(d, array_encodings=encodings)
    problems = check_scene(d, check_frames=False).problems
    assert any(p.field == field and words in p.message for p in problems), problems
    if field == "array_encodings":
        with pytest.raises(SceneError, match="array_encodings"):
            load_scene(d)
    else:
        with pytest.raises(SceneError, match=field):
            load_scene(d).array(field)


def test_planes_of_the_wrong_shape_are_reported(tmp_path):
    arrays = toy_scene_arrays()
    d = write_scene(tmp_path / "s", toy_meta(), arrays, FRAMES, encode=False)
    # a uint8 member claimed to be byte planes of float32, without the 4 planes
    arrays["depth"] = np.zeros((4, 3, 24, 32), np.uint8)
    save_npz(d / "arrays.npz", arrays)
    _rewrite_meta(d, array_encodings={"depth": "byte_planes"})
    problems = check_scene(d, check_frames=False).problems
    assert any(p.field == "depth" and "(n, 4, ...)" in p.message for p in problems), problems
    with pytest.raises(SceneError, match="depth"):
        load_scene(d).depth


def test_byte_planes_need_the_formats_dtype(tmp_path):
    with pytest.raises(ValueError, match="float32"):
        save_npz(tmp_path / "x.npz", {"depth": np.ones((2, 3, 4))}, encodings={"depth": "byte_planes"})
    assert decode_array("depth", np.zeros((0, 4, 3, 5), np.uint8), "byte_planes").shape == (0, 3, 5)
