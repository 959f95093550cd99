"""The fast writing path of simulated scenes: our PNG encoder and the streamed npz."""

from __future__ import annotations

import io
import zipfile
import zlib

import numpy as np
import pytest
from PIL import Image

from qa4d.scene.format import encode_png, save_npz


@pytest.mark.parametrize("shape", [(37, 53, 3), (20, 31), (16, 9, 4)])
def test_png_round_trips_through_pil_and_is_deterministic(shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    img[: shape[0] // 2] = 7  # a flat region as in rendered frames
    data = encode_png(img)
    with Image.open(io.BytesIO(data)) as im:
        im.load()  # verifies the chunk CRCs and the zlib stream
        assert im.size == (shape[1], shape[0])
        assert np.array_equal(np.asarray(im), img)
    assert encode_png(img.copy()) == data


def test_png_rejects_what_it_cannot_encode():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        encode_png(np.zeros((4, 4, 2), dtype=np.uint8))


def test_streamed_npz_is_level1_deflate_reloadable_and_byte_identical(tmp_path):
    rng = np.random.default_rng(1)
    arrays = {
        "depth": rng.uniform(0.5, 9.0, (3, 40, 50)).astype(np.float32),
        "instance_mask": rng.integers(0, 4, (3, 40, 50)).astype(np.int32),
        "cam_to_world": np.tile(np.eye(4), (3, 1, 1)),
        "empty": np.zeros((0, 3)),
    }
    save_npz(tmp_path / "a.npz", arrays)
    save_npz(tmp_path / "b.npz", {k: arrays[k].copy() for k in reversed(list(arrays))})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz") as z:
        assert sorted(z.files) == sorted(arrays)
        for k, v in arrays.items():
            assert z[k].dtype == v.dtype and np.array_equal(z[k], v)
    with zipfile.ZipFile(tmp_path / "a.npz") as zf:
        assert [i.filename for i in zf.infolist()] == sorted(k + ".npy" for k in arrays)
        info = zf.getinfo("depth.npy")
        assert info.compress_type == zipfile.ZIP_DEFLATED and info.date_time == (1980, 1, 1, 0, 0, 0)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arrays["depth"], allow_pickle=False)
        co = zlib.compressobj(1, zlib.DEFLATED, -15)
        expected = co.compress(buf.getvalue()) + co.flush()
        raw = (tmp_path / "a.npz").read_bytes()
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        assert raw[start:start + info.compress_size] == expected  # level 1, not zipfile's default 6


def test_png_of_a_strided_rgba_view_is_that_of_its_rgb_copy():
    """The simulator hands the encoder rgba[..., :3] views of PyBullet's buffers."""
    rgba = np.random.default_rng(2).integers(0, 256, (19, 23, 4), dtype=np.uint8)
    view = rgba[..., :3]
    assert not view.flags.c_contiguous
    data = encode_png(view)
    assert data == encode_png(np.ascontiguousarray(view))
    with Image.open(io.BytesIO(data)) as im:
        assert np.array_equal(np.asarray(im), rgba[..., :3])


def test_simulated_scene_reads_back_exactly_what_was_simulated(tmp_path):
    """simulate_spec's arrays (uint8 mask, frames as views) -> write_scene (depth planes, uint8
    mask) -> load_scene: the format's dtypes and the very same values and pixels."""
    from qa4d.scene import load_scene, write_scene
    from qa4d.sources.sim.simulate import SimOptions, make_spec, simulate_spec

    spec = make_spec(2, 0, SimOptions(num_frames=4, size=48, tracks_per_object=16, background_tracks=32))
    meta, arrays, frames, _ = simulate_spec(spec)
    assert arrays["instance_mask"].dtype == np.uint8 and arrays["instance_mask"].max() > 0
    d = write_scene(tmp_path / spec.scene_id, meta, arrays, frames)
    assert meta.array_encodings == {"depth": "byte_planes", "instance_mask": "uint8"}
    scene = load_scene(d)
    assert scene.instance_mask.dtype == np.int32 and np.array_equal(scene.instance_mask, arrays["instance_mask"])
    assert scene.depth.dtype == np.float32 and scene.depth.tobytes() == arrays["depth"].tobytes()
    for t, f in enumerate(frames):
        assert np.array_equal(scene.frame(t), f)
