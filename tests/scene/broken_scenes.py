"""A catalogue of broken scenes: each kind breaks a valid scene directory in exactly one way.

`KINDS` lists them; each has a readable id, the field the problem must name (as `qa4d validate`
prints it: `scene: FIELD: what is wrong`) and a function that breaks a valid scene in place.
Every breaker works on any valid scene with at least two frames, one object and all the arrays of
the format (tests/scene/conftest.py's toy scene, tests/engine/toy.py's scenes).

Files a breaker points at outside the scene are written beside the scene directory as plain files
or hidden directories, so a directory of scenes still holds only scene directories.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PIL import Image

from qa4d.scene.format import decode_array, encode_png, save_npz


@dataclass(frozen=True)
class Kind:
    id: str
    field: str
    breaker: Callable[[Path], None]

    def __str__(self) -> str:
        return self.id


KINDS: list[Kind] = []


def add(kind_id: str, field: str, breaker: Callable[[Path], None]) -> None:
    assert all(k.id != kind_id for k in KINDS), kind_id
    KINDS.append(Kind(kind_id, field, breaker))


# -- editing helpers ----------------------------------------------------------------------


def read_meta(d: Path) -> dict[str, Any]:
    return json.loads((d / "scene.json").read_text())


def write_meta(d: Path, meta: Any) -> None:
    # allow_nan: JSON has no NaN, but Python's reader accepts the token, so a scene may hold it
    (d / "scene.json").write_text(json.dumps(meta, allow_nan=True))


def edit_meta(fn: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def breaker(d: Path) -> None:
        meta = read_meta(d)
        fn(meta)
        write_meta(d, meta)
    return breaker


def load_arrays(d: Path) -> dict[str, np.ndarray]:
    """The arrays as the format defines them (stored encodings undone: scene.json array_encodings)."""
    encodings = read_meta(d).get("array_encodings", {})
    with np.load(d / "arrays.npz") as z:
        return {k: decode_array(k, z[k], encodings.get(k)) for k in z.files}


def edit_arrays(fn: Callable[[dict[str, np.ndarray]], None]) -> Callable[[Path], None]:
    def breaker(d: Path) -> None:
        arrays = load_arrays(d)
        fn(arrays)
        save_npz(d / "arrays.npz", arrays)  # every member plain now
        meta = read_meta(d)
        meta.pop("array_encodings", None)
        write_meta(d, meta)
    return breaker


def frame_file(d: Path, t: int = 1) -> Path:
    return d / read_meta(d)["frames"][t]


def outside_file(d: Path) -> Path:
    """A readable PNG of the scene's size beside the scene directory (not inside it)."""
    meta = read_meta(d)
    p = d.parent / f"{d.name}_outside.png"
    p.write_bytes(encode_png(np.zeros((meta["height"], meta["width"], 3), np.uint8)))
    return p


# -- scene.json -----------------------------------------------------------------------------

add("meta_missing", "scene.json", lambda d: (d / "scene.json").unlink())
add("meta_empty", "scene.json", lambda d: (d / "scene.json").write_bytes(b""))
def _latin1_caption(d: Path) -> None:
    data = (d / "scene.json").read_bytes()
    assert b'"caption": "' in data
    (d / "scene.json").write_bytes(data.replace(b'"caption": "', b'"caption": "\xe9', 1))


add("meta_not_utf8", "scene.json", _latin1_caption)
add("meta_invalid_json", "scene.json", lambda d: (d / "scene.json").write_text("{\"format\": "))
add("meta_not_object", "scene.json", lambda d: write_meta(d, [read_meta(d)]))
add("meta_is_directory", "scene.json", lambda d: ((d / "scene.json").unlink(), (d / "scene.json").mkdir()))
def _link_out(name: str) -> Callable[[Path], None]:
    """The scene's own file moved beside the scene directory and linked back in."""
    def breaker(d: Path) -> None:
        target = d.parent / f"{d.name}_{name}"
        shutil.move(str(d / name), str(target))
        os.symlink(target, d / name)
    return breaker


add("meta_symlink_outside", "scene.json", _link_out("scene.json"))
add("format_wrong", "format", edit_meta(lambda m: m.update(format="qa4d.scene/2")))
add("format_missing", "format", edit_meta(lambda m: m.pop("format")))

for _key in ("scene_id", "source", "fps", "width", "height", "num_frames", "world_up", "frames", "objects"):
    add(f"{_key}_missing", _key, edit_meta(lambda m, k=_key: m.pop(k)))

for _key, _value in [("scene_id", 7), ("source", ["sim"]), ("fps", "10"), ("fps", True), ("width", 32.0),
                     ("height", "24"), ("num_frames", 4.0), ("world_up", "z"), ("frames", "frames/"),
                     ("objects", {"1": "cube"})]:
    add(f"{_key}_type_{type(_value).__name__}", _key, edit_meta(lambda m, k=_key, v=_value: m.update({k: v})))

add("fps_zero", "fps", edit_meta(lambda m: m.update(fps=0)))
add("fps_negative", "fps", edit_meta(lambda m: m.update(fps=-10.0)))
add("fps_nan", "fps", edit_meta(lambda m: m.update(fps=float("nan"))))
add("fps_inf", "fps", edit_meta(lambda m: m.update(fps=float("inf"))))
add("width_zero", "width", edit_meta(lambda m: m.update(width=0)))
add("height_negative", "height", edit_meta(lambda m: m.update(height=-24)))
add("num_frames_mismatch", "num_frames", edit_meta(lambda m: m.update(num_frames=m["num_frames"] + 1)))
add("frames_empty", "num_frames", edit_meta(lambda m: m.update(num_frames=0, frames=[])))
add("frames_one_short", "num_frames", edit_meta(lambda m: m.update(frames=m["frames"][:-1])))

add("world_up_two_numbers", "world_up", edit_meta(lambda m: m.update(world_up=[0, 1])))
add("world_up_not_unit", "world_up", edit_meta(lambda m: m.update(world_up=[0, 0, 2])))
add("world_up_zero", "world_up", edit_meta(lambda m: m.update(world_up=[0, 0, 0])))
add("world_up_nan", "world_up", edit_meta(lambda m: m.update(world_up=[0, 0, float("nan")])))
add("world_up_inf", "world_up", edit_meta(lambda m: m.update(world_up=[0, float("inf"), 1])))
add("world_up_string_entry", "world_up", edit_meta(lambda m: m.update(world_up=[0, 0, "1"])))
add("world_up_bool_entry", "world_up", edit_meta(lambda m: m.update(world_up=[False, False, True])))

for _name, _sid in [("empty", ""), ("slash", "a/b"), ("dot", "."), ("dotdot", ".."), ("parent", "../x"),
                    ("absolute", "/tmp/x"), ("backslash", "a\\b"), ("space", "my scene"),
                    ("hidden", ".scene"), ("non_ascii", "sc\u00e8ne"), ("newline", "a\nb"), ("trailing_newline", "abc\n"),
                    ("too_long", "a" * 300)]:
    add(f"scene_id_{_name}", "scene_id", edit_meta(lambda m, s=_sid: m.update(scene_id=s)))
add("source_empty", "source", edit_meta(lambda m: m.update(source="")))
add("extra_not_object", "extra", edit_meta(lambda m: m.update(extra=["a", "b"])))

add("object_not_object", "objects[0]", edit_meta(lambda m: m["objects"].__setitem__(0, "cube")))
add("object_id_missing", "objects[0].id", edit_meta(lambda m: m["objects"][0].pop("id")))
for _name, _oid in [("zero", 0), ("negative", -1), ("string", "1"), ("bool", True), ("float", 1.0)]:
    add(f"object_id_{_name}", "objects[0].id", edit_meta(lambda m, v=_oid: m["objects"][0].update(id=v)))
add("object_id_duplicate", "objects[1].id",
    edit_meta(lambda m: m["objects"].insert(1, dict(m["objects"][0], caption="another object"))))
add("object_category_missing", "objects[0].category", edit_meta(lambda m: m["objects"][0].pop("category")))
add("object_category_empty", "objects[0].category", edit_meta(lambda m: m["objects"][0].update(category="")))
add("object_caption_number", "objects[0].caption", edit_meta(lambda m: m["objects"][0].update(caption=3)))
add("object_caption_repeated", "objects",
    edit_meta(lambda m: m["objects"].append(dict(m["objects"][0], id=max(o["id"] for o in m["objects"]) + 1))))
add("object_is_agent_string", "objects[0].is_agent", edit_meta(lambda m: m["objects"][0].update(is_agent="no")))
add("object_is_agent_missing", "objects[0].is_agent", edit_meta(lambda m: m["objects"][0].pop("is_agent")))
for _name, _fwd in [("two_numbers", [1, 0]), ("zero", [0, 0, 0]), ("nan", [float("nan"), 0, 0]),
                    ("string", "x"), ("inf", [float("inf"), 0, 0])]:
    add(f"forward_axis_{_name}", "objects[0].forward_axis",
        edit_meta(lambda m, v=_fwd: m["objects"][0].update(forward_axis=v)))

# -- arrays.npz: the archive ----------------------------------------------------------------


def _npz_truncated(d: Path) -> None:
    data = (d / "arrays.npz").read_bytes()
    (d / "arrays.npz").write_bytes(data[: len(data) // 2])


def _npz_is_npy(d: Path) -> None:
    arrays = load_arrays(d)
    with open(d / "arrays.npz", "wb") as f:
        np.save(f, arrays["intrinsics"])


def _npz_pickled(d: Path) -> None:
    arrays = load_arrays(d)
    arrays["depth"] = np.array([{"not": "an array"}] * 2, dtype=object)
    with open(d / "arrays.npz", "wb") as f:
        np.savez(f, **arrays)  # np.savez pickles object arrays; qa4d must refuse to unpickle


def _npz_corrupt_member(d: Path) -> None:
    """A valid zip directory whose deflated depth data is garbage (the CRC check or zlib fails)."""
    arrays = load_arrays(d)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=False)
            zf.writestr(name + ".npy", b.getvalue())
    data = bytearray(buf.getvalue())
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo("depth.npy")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + min(info.compress_size, 200)):
        data[i] ^= 0x5A
    (d / "arrays.npz").write_bytes(bytes(data))


def _npz_member_not_npy(d: Path) -> None:
    arrays = load_arrays(d)
    with zipfile.ZipFile(d / "arrays.npz", "w") as zf:
        for name, arr in arrays.items():
            if name == "cam_to_world":
                zf.writestr(name + ".npy", b"this is not an array")
                continue
            b = io.BytesIO()
            np.lib.format.write_array(b, arr, allow_pickle=False)
            zf.writestr(name + ".npy", b.getvalue())


add("npz_missing", "arrays.npz", lambda d: (d / "arrays.npz").unlink())
add("npz_empty", "arrays.npz", lambda d: (d / "arrays.npz").write_bytes(b""))
add("npz_garbage", "arrays.npz", lambda d: (d / "arrays.npz").write_bytes(b"not a zip file at all"))
add("npz_truncated", "arrays.npz", _npz_truncated)
add("npz_is_npy", "arrays.npz", _npz_is_npy)
add("npz_pickled_object", "arrays.npz", _npz_pickled)
add("npz_corrupt_member", "arrays.npz", _npz_corrupt_member)
add("npz_member_not_npy", "arrays.npz", _npz_member_not_npy)
add("npz_symlink_outside", "arrays.npz", _link_out("arrays.npz"))
add("npz_is_directory", "arrays.npz", lambda d: ((d / "arrays.npz").unlink(), (d / "arrays.npz").mkdir()))

# -- arrays.npz: each array -----------------------------------------------------------------


def _set(name: str, fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    return edit_arrays(lambda a: a.__setitem__(name, fn(a[name].copy())))


def _poke(index: tuple, value: float) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        x[index] = value
        return x
    return fn


def _scale(index: tuple, factor: float) -> Callable[[np.ndarray], np.ndarray]:
    def fn(x: np.ndarray) -> np.ndarray:
        x[index] = x[index] * factor
        return x
    return fn


for _name in ("intrinsics", "cam_to_world"):
    add(f"{_name}_missing", _name, edit_arrays(lambda a, n=_name: a.pop(n)))
add("intrinsics_nan", "intrinsics", _set("intrinsics", _poke((1, 0, 2), np.nan)))
add("intrinsics_inf", "intrinsics", _set("intrinsics", _poke((0, 0, 0), np.inf)))
add("intrinsics_one_frame_short", "intrinsics", _set("intrinsics", lambda x: x[:-1]))
add("intrinsics_not_3x3", "intrinsics", _set("intrinsics", lambda x: x[:, :2, :2]))
add("intrinsics_float32", "intrinsics", _set("intrinsics", lambda x: x.astype(np.float32)))
add("intrinsics_fx_zero", "intrinsics", _set("intrinsics", _poke((1, 0, 0), 0.0)))
add("intrinsics_fy_negative", "intrinsics", _set("intrinsics", _scale((0, 1, 1), -1.0)))
add("intrinsics_last_row", "intrinsics", _set("intrinsics", _poke((1, 2, 2), 2.0)))
add("intrinsics_lower_entry", "intrinsics", _set("intrinsics", _poke((1, 1, 0), 0.5)))

add("cam_to_world_nan", "cam_to_world", _set("cam_to_world", _poke((1, 0, 3), np.nan)))
add("cam_to_world_all_nan_frame", "cam_to_world", _set("cam_to_world", _poke((1,), np.nan)))
add("cam_to_world_inf", "cam_to_world", _set("cam_to_world", _poke((0, 2, 3), np.inf)))
add("cam_to_world_scaled", "cam_to_world", _set("cam_to_world", _scale((1, slice(0, 3), slice(0, 3)), 1.5)))
add("cam_to_world_reflection", "cam_to_world", _set("cam_to_world", _scale((1, slice(0, 3), 0), -1.0)))
add("cam_to_world_sheared", "cam_to_world", _set("cam_to_world", _poke((1, 0, 1), 0.3)))
add("cam_to_world_last_row", "cam_to_world", _set("cam_to_world", _poke((1, 3, 0), 0.2)))
add("cam_to_world_far_away", "cam_to_world", _set("cam_to_world", _poke((1, 0, 3), 1e9)))
add("cam_to_world_one_frame_short", "cam_to_world", _set("cam_to_world", lambda x: x[:-1]))
add("cam_to_world_float32", "cam_to_world", _set("cam_to_world", lambda x: x.astype(np.float32)))

add("depth_nan", "depth", _set("depth", _poke((1, 2, 3), np.nan)))
add("depth_inf", "depth", _set("depth", _poke((0, 0, 0), np.inf)))
add("depth_negative", "depth", _set("depth", _poke((1, 3, 4), -0.5)))
add("depth_cropped", "depth", _set("depth", lambda x: x[:, :, :-1]))
add("depth_one_frame_short", "depth", _set("depth", lambda x: x[:-1]))
add("depth_float64", "depth", _set("depth", lambda x: x.astype(np.float64)))
add("depth_uint16", "depth", _set("depth", lambda x: (x * 1000).astype(np.uint16)))

add("instance_mask_unknown_id", "instance_mask", _set("instance_mask", _poke((0, 0, 0), 99)))
add("instance_mask_negative", "instance_mask", _set("instance_mask", _poke((1, 0, 0), -3)))
add("instance_mask_int64", "instance_mask", _set("instance_mask", lambda x: x.astype(np.int64)))
add("instance_mask_float", "instance_mask", _set("instance_mask", lambda x: x.astype(np.float32)))
add("instance_mask_cropped", "instance_mask", _set("instance_mask", lambda x: x[:, 1:, :]))

add("object_to_world_partly_nan", "object_to_world", _set("object_to_world", _poke((0, 1, 0, 0), np.nan)))
add("object_to_world_inf", "object_to_world", _set("object_to_world", _poke((0, 1, 1, 3), np.inf)))
add("object_to_world_scaled", "object_to_world",
    _set("object_to_world", _scale((0, 1, slice(0, 3), slice(0, 3)), 0.5)))
add("object_to_world_last_row", "object_to_world", _set("object_to_world", _poke((0, 0, 3, 3), 2.0)))
add("object_to_world_far_away", "object_to_world", _set("object_to_world", _poke((0, 0, 2, 3), -5e6)))
add("object_to_world_extra_object", "object_to_world",
    _set("object_to_world", lambda x: np.concatenate([x, x[:1]])))
add("object_to_world_float32", "object_to_world", _set("object_to_world", lambda x: x.astype(np.float32)))

add("object_visible_unknown_pose", "object_visible", _set("object_to_world", _poke((0, 1), np.nan)))
add("object_visible_uint8", "object_visible", _set("object_visible", lambda x: x.astype(np.uint8)))
add("object_visible_one_frame_short", "object_visible", _set("object_visible", lambda x: x[:, :-1]))

add("object_extent_zero", "object_extent", _set("object_extent", _poke((0, 1), 0.0)))
add("object_extent_negative", "object_extent", _set("object_extent", _poke((0, 2), -0.5)))
add("object_extent_nan", "object_extent", _set("object_extent", _poke((0, 0), np.nan)))
add("object_extent_two_numbers", "object_extent", _set("object_extent", lambda x: x[:, :2]))
add("object_extent_float32", "object_extent", _set("object_extent", lambda x: x.astype(np.float32)))

add("tracks_world_nan", "tracks_world", _set("tracks_world", _poke((0, 1, 2), np.nan)))
add("tracks_world_inf", "tracks_world", _set("tracks_world", _poke((1, 0, 0), -np.inf)))
add("tracks_world_far_away", "tracks_world", _set("tracks_world", _poke((0, 0, 0), 3e6)))
add("tracks_world_one_frame_short", "tracks_world", _set("tracks_world", lambda x: x[:, :-1]))
add("tracks_world_2d", "tracks_world", _set("tracks_world", lambda x: x[:, :, :2]))
add("tracks_world_float64", "tracks_world", _set("tracks_world", lambda x: x.astype(np.float64)))
add("tracks_visible_one_track_short", "tracks_visible", _set("tracks_visible", lambda x: x[:-1]))
add("tracks_visible_int", "tracks_visible", _set("tracks_visible", lambda x: x.astype(np.int32)))
add("tracks_object_unknown_id", "tracks_object", _set("tracks_object", _poke((0,), 77)))
# -1 means "owner unknown" (partial scenes); any other negative id is an error
add("tracks_object_negative", "tracks_object", _set("tracks_object", _poke((1,), -2)))
add("tracks_object_one_extra", "tracks_object", _set("tracks_object", lambda x: np.append(x, x[:1])))
add("tracks_object_int64", "tracks_object", _set("tracks_object", lambda x: x.astype(np.int64)))
for _name in ("tracks_world", "tracks_visible", "tracks_object"):
    add(f"{_name}_alone_missing", "tracks_*", edit_arrays(lambda a, n=_name: a.pop(n)))

# -- frames ----------------------------------------------------------------------------------


def _truncate(d: Path) -> None:
    f = frame_file(d)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) * 2 // 3])


def _jpeg_truncated(d: Path) -> None:
    """Frame 1 becomes a JPEG (listed as such) cut after two thirds: its header is intact."""
    meta = read_meta(d)
    old = d / meta["frames"][1]
    with Image.open(old) as im:
        rgb = np.asarray(im.convert("RGB"))
    rng = np.random.default_rng(0)  # noise: a JPEG large enough that the cut is mid-scan
    noisy = np.clip(rgb.astype(int) + rng.integers(-40, 40, rgb.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, format="JPEG", quality=95)
    data = buf.getvalue()
    old.unlink()
    meta["frames"][1] = str(Path(meta["frames"][1]).with_suffix(".jpg"))
    (d / meta["frames"][1]).write_bytes(data[: len(data) * 2 // 3])
    write_meta(d, meta)


def _corrupt_pixels(d: Path) -> None:
    """Frame 1's compressed pixel data garbled (IDAT chunk), the header and size intact."""
    f = frame_file(d)
    data = bytearray(f.read_bytes())
    i = data.index(b"IDAT") + 4
    for j in range(i + 2, min(i + 40, len(data) - 16)):
        data[j] ^= 0xA5
    f.write_bytes(bytes(data))


def _wrong_size(d: Path) -> None:
    meta = read_meta(d)
    frame_file(d).write_bytes(encode_png(np.zeros((meta["height"] + 2, meta["width"], 3), np.uint8)))


def _gif_named_png(d: Path) -> None:
    meta = read_meta(d)
    Image.fromarray(np.zeros((meta["height"], meta["width"], 3), np.uint8)).save(frame_file(d), format="GIF")


def _bmp_listed(d: Path) -> None:
    meta = read_meta(d)
    old = d / meta["frames"][1]
    with Image.open(old) as im:
        rgb = im.convert("RGB")
    old.unlink()
    meta["frames"][1] = str(Path(meta["frames"][1]).with_suffix(".bmp"))
    rgb.save(d / meta["frames"][1], format="BMP")
    write_meta(d, meta)


def _frame_entry(value_of: Callable[[Path], Any]) -> Callable[[Path], None]:
    def breaker(d: Path) -> None:
        meta = read_meta(d)
        meta["frames"][1] = value_of(d)
        write_meta(d, meta)
    return breaker


def _symlink_out(d: Path) -> None:
    f = frame_file(d)
    f.unlink()
    os.symlink(outside_file(d), f)


def _frames_dir_symlink_out(d: Path) -> None:
    """The whole frames/ directory moved beside the scene (hidden) and linked back in."""
    meta = read_meta(d)
    sub = Path(meta["frames"][0]).parts[0]
    target = d.parent / f".{d.name}_frames"
    shutil.move(str(d / sub), str(target))
    os.symlink(target, d / sub, target_is_directory=True)


add("frame_missing", "frames[1]", lambda d: frame_file(d).unlink())
add("frame_empty_file", "frames[1]", lambda d: frame_file(d).write_bytes(b""))
add("frame_garbage", "frames[1]", lambda d: frame_file(d).write_bytes(b"not an image"))
add("frame_truncated_png", "frames[1]", _truncate)
add("frame_truncated_jpeg", "frames[1]", _jpeg_truncated)
add("frame_corrupt_pixels", "frames[1]", _corrupt_pixels)
add("frame_wrong_size", "frames[1]", _wrong_size)
add("frame_gif_named_png", "frames[1]", _gif_named_png)
add("frame_bmp", "frames[1]", _bmp_listed)
add("frame_is_directory", "frames[1]", lambda d: (frame_file(d).unlink(), frame_file(d).mkdir()))
add("frame_entry_number", "frames[1]", _frame_entry(lambda d: 5))
add("frame_entry_null", "frames[1]", _frame_entry(lambda d: None))
add("frame_entry_empty", "frames[1]", _frame_entry(lambda d: ""))
add("frame_entry_absolute", "frames[1]", _frame_entry(lambda d: str(outside_file(d).resolve())))
add("frame_entry_parent", "frames[1]", _frame_entry(lambda d: f"../{outside_file(d).name}"))
add("frame_entry_deep_parent", "frames[1]",
    _frame_entry(lambda d: f"frames/../../{outside_file(d).name}"))
add("frame_entry_other_scene", "frames[1]", _frame_entry(lambda d: "../../other/000000.png"))
add("frame_symlink_outside", "frames[1]", _symlink_out)
add("frames_dir_symlink_outside", "frames[0]", _frames_dir_symlink_out)


def make_broken(valid_scene: Path, dest: Path, kind: Kind, scene_id: str | None = None) -> Path:
    """Copy `valid_scene` to `dest` (renamed to `scene_id`, default the kind's id), then break it."""
    shutil.copytree(valid_scene, dest, symlinks=True)
    meta = read_meta(dest)
    meta["scene_id"] = scene_id or kind.id
    write_meta(dest, meta)
    kind.breaker(dest)
    return dest
