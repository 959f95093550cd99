"""Scene format v1: the contract every source writes and every question family reads.

A scene is a directory (see docs/scene-format.md):

    scene.json     metadata: ids, fps, size, world up, frame paths, objects
    frames/        RGB frames (PNG or JPEG), one per time step
    arrays.npz     intrinsics (T,3,3), cam_to_world (T,4,4) and optional geometry

Camera axes follow OpenCV: x right, y down, z forward. Depth is z-depth in metres.

An array may be stored encoded (scene.json `array_encodings`, `ARRAY_ENCODINGS`): depth as the
byte planes of its float32 values, the instance mask as uint8. Every reader here decodes, so
`Scene.depth` is the float32 array whether the scene was written with or without encodings.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from qa4d._io import atomic_file, make_temp_dir, resolve_inside, write_bytes_atomic, write_text_atomic

FORMAT = "qa4d.scene/1"
META_FILE = "scene.json"
ARRAYS_FILE = "arrays.npz"

# name -> (dtype, shape pattern). Letters are symbolic sizes: T frames, H, W image size,
# K objects, N point tracks. Required arrays first.
REQUIRED_ARRAYS = ("intrinsics", "cam_to_world")
ARRAY_SPECS: dict[str, tuple[str, tuple[Any, ...]]] = {
    "intrinsics": ("float64", ("T", 3, 3)),
    "cam_to_world": ("float64", ("T", 4, 4)),
    "depth": ("float32", ("T", "H", "W")),
    "instance_mask": ("int32", ("T", "H", "W")),
    "object_to_world": ("float64", ("K", "T", 4, 4)),
    "object_visible": ("bool", ("K", "T")),
    "object_extent": ("float64", ("K", 3)),
    "tracks_world": ("float32", ("N", "T", 3)),
    "tracks_visible": ("bool", ("N", "T")),
    "tracks_object": ("int32", ("N",)),
}


# Partial scenes (converted real data): a point track whose owner is not known (it may be on
# background or on any object) has this value in `tracks_object`; 0 still means static background.
TRACK_OWNER_UNKNOWN = -1

# How an array of ARRAY_SPECS may be stored in arrays.npz instead of as its own .npy (scene.json
# `array_encodings` names the encoded ones; docs/scene-format.md). Both are exactly invertible.
ARRAY_ENCODINGS = {
    # uint8 (n, S, ...) for an array (n, ...) of S-byte elements: plane k of row i holds byte k
    # (little-endian) of every element of row i. Depth's sign/exponent and high mantissa bytes
    # then form long runs that deflate almost for free (docs/benchmarks.md).
    "byte_planes": "uint8 (n, itemsize, ...): the little-endian bytes of each row, one plane per byte",
    # the values themselves as uint8, for an integer array whose values are all in 0..255
    "uint8": "uint8 of the same shape: the values, all in 0..255",
}


class SceneError(ValueError):
    """A scene that cannot be read. The message names the file and the field."""


@dataclass(frozen=True)
class SceneObject:
    """One object of a scene. `id` >= 1 is the value it has in `instance_mask`."""

    id: int
    category: str
    caption: str
    is_agent: bool = False
    forward_axis: tuple[float, float, float] = (1.0, 0.0, 0.0)
    rigid: bool = True  # False: deforms (people, animals); no rigid pose is defined, poses stay NaN

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["forward_axis"] = [float(v) for v in self.forward_axis]
        if self.rigid:  # written only when false: rigid objects keep the v1 bytes
            del d["rigid"]
        return d


@dataclass
class SceneMeta:
    """The contents of scene.json."""

    scene_id: str
    source: str
    fps: float
    width: int
    height: int
    frames: list[str]
    objects: list[SceneObject] = field(default_factory=list)
    world_up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    extra: dict[str, Any] = field(default_factory=dict)  # free-form, source-specific
    array_encodings: dict[str, str] = field(default_factory=dict)  # arrays.npz members stored encoded

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "scene_id": self.scene_id,
            "source": self.source,
            "fps": float(self.fps),
            "width": int(self.width),
            "height": int(self.height),
            "num_frames": self.num_frames,
            "world_up": [float(v) for v in self.world_up],
            "frames": list(self.frames),
            "objects": [o.to_json() for o in self.objects],
        }
        if self.array_encodings:  # written only when used: plain scenes keep their bytes
            d["array_encodings"] = {k: self.array_encodings[k] for k in sorted(self.array_encodings)}
        if self.extra:
            d["extra"] = self.extra
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any], where: str = META_FILE) -> "SceneMeta":
        """Parse scene.json contents; raises SceneError naming the field on bad input."""
        if not isinstance(d, Mapping):
            raise SceneError(f"{where}: top level must be a JSON object")
        if d.get("format") != FORMAT:
            raise SceneError(f"{where}: field 'format' is {d.get('format')!r}, expected {FORMAT!r}")
        for key in ("scene_id", "source", "fps", "width", "height", "num_frames", "world_up", "frames", "objects"):
            if key not in d:
                raise SceneError(f"{where}: missing field {key!r}")
        if not isinstance(d["frames"], list) or not all(isinstance(f, str) for f in d["frames"]):
            raise SceneError(f"{where}: field 'frames' must be a list of strings")
        if not isinstance(d["objects"], list):
            raise SceneError(f"{where}: field 'objects' must be a list")
        objects = []
        for i, o in enumerate(d["objects"]):
            try:
                objects.append(
                    SceneObject(
                        id=int(o["id"]),
                        category=str(o["category"]),
                        caption=str(o["caption"]),
                        is_agent=bool(o.get("is_agent", False)),
                        forward_axis=tuple(float(v) for v in o.get("forward_axis", (1, 0, 0))),  # type: ignore[arg-type]
                        rigid=bool(o.get("rigid", True)),
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise SceneError(f"{where}: objects[{i}] is malformed ({e!r})") from e
        encodings = check_array_encodings(d.get("array_encodings", {}), where)
        try:
            return cls(
                scene_id=str(d["scene_id"]),
                source=str(d["source"]),
                fps=float(d["fps"]),
                width=int(d["width"]),
                height=int(d["height"]),
                frames=[str(f) for f in d["frames"]],
                objects=objects,
                world_up=tuple(float(v) for v in d["world_up"]),  # type: ignore[arg-type]
                extra=dict(d.get("extra", {})),
                array_encodings=encodings,
            )
        except (TypeError, ValueError) as e:
            raise SceneError(f"{where}: malformed field ({e})") from e

# -- array encodings (ARRAY_ENCODINGS) --------------------------------------------


def array_encodings_problem(value: Any) -> str | None:
    """What is wrong with scene.json's `array_encodings` ({array name: encoding}: names of
    ARRAY_SPECS, encodings of ARRAY_ENCODINGS), or None when it is right."""
    if not isinstance(value, Mapping):
        return f"must be an object, got {type(value).__name__}"
    for name, enc in value.items():
        if name not in ARRAY_SPECS:
            return f"{name!r} is not an array of the format (encodings are for {', '.join(ARRAY_SPECS)})"
        if enc not in ARRAY_ENCODINGS:
            return f"{name}: unknown encoding {enc!r} (known: {', '.join(ARRAY_ENCODINGS)})"
        if enc == "uint8" and np.dtype(ARRAY_SPECS[name][0]).kind not in "iu":
            return f"{name}: 'uint8' is for integer arrays, {name} is {ARRAY_SPECS[name][0]}"
    return None


def check_array_encodings(value: Any, where: str = META_FILE) -> dict[str, str]:
    """scene.json's `array_encodings`, checked (SceneError naming the entry that is wrong)."""
    problem = array_encodings_problem(value)
    if problem is not None:
        raise SceneError(f"{where}: field 'array_encodings': {problem}")
    return {str(k): str(v) for k, v in value.items()}


def decode_array(name: str, stored: np.ndarray, encoding: str | None) -> np.ndarray:
    """Array `name` with the format's dtype from the arrays.npz member `stored`, written with
    `encoding` (None: stored as it is, returned unchanged). Raises ValueError saying what does
    not fit (a member that is not what its encoding says)."""
    if encoding is None:
        return stored
    dtype = np.dtype(ARRAY_SPECS[name][0])
    if stored.dtype != np.uint8:
        raise ValueError(f"stored as {encoding!r}, so the member must be uint8, but it is {stored.dtype}")
    if encoding == "uint8":
        return stored.astype(dtype)
    size = dtype.itemsize
    if stored.ndim < 2 or stored.shape[1] != size:
        raise ValueError(f"stored as 'byte_planes' of {dtype} (shape (n, {size}, ...)), but its shape is {stored.shape}")
    n, rest = stored.shape[0], stored.shape[2:]
    planes = stored.reshape(n, size, int(np.prod(rest, dtype=np.int64)))
    out = np.empty((n, planes.shape[2], size), dtype=np.uint8)
    for k in range(size):  # one strided copy per byte: 4x faster than a transposed copy
        out[:, :, k] = planes[:, k]
    return out.view(dtype.newbyteorder("<")).reshape((n, *rest)).astype(dtype, copy=False)


def choose_encodings(arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
    """The encodings write_scene uses: depth as byte planes; an instance mask whose ids are all
    in 0..255 as uint8. Other arrays (small, or float noise that planes do not help) stay plain."""
    out = {}
    depth = arrays.get("depth")
    if depth is not None and np.ndim(depth) >= 1 and np.size(depth):
        out["depth"] = "byte_planes"
    mask = arrays.get("instance_mask")
    if mask is not None and np.size(mask):
        mask = np.asarray(mask)
        if mask.dtype == np.uint8 or (mask.dtype.kind in "iu" and mask.min() >= 0 and mask.max() <= 255):
            out["instance_mask"] = "uint8"
    return out


def _write_npy(f, arr: np.ndarray, encoding: str | None) -> None:
    """The .npy bytes of `arr` stored with `encoding` (None: as it is), streamed to f."""
    if encoding is None:
        np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    elif encoding == "uint8":
        if arr.dtype != np.uint8:
            if arr.size and (arr.min() < 0 or arr.max() > 255):
                raise ValueError(f"'uint8' encoding needs values in 0..255, got {arr.min()}..{arr.max()}")
            arr = arr.astype(np.uint8)
        np.lib.format.write_array(f, np.ascontiguousarray(arr), allow_pickle=False)
    elif encoding == "byte_planes":
        arr = np.asarray(arr)
        size = arr.dtype.itemsize
        n = arr.shape[0]
        header = {"descr": "|u1", "fortran_order": False, "shape": (n, size, *arr.shape[1:])}
        np.lib.format.write_array_header_1_0(f, header)
        row = max(1, int(np.prod(arr.shape[1:], dtype=np.int64)))
        le = arr.dtype.newbyteorder("<")
        step = max(1, (1 << 20) // (row * size))  # about 1 MB of planes per write
        for i in range(0, n, step):
            block = np.ascontiguousarray(arr[i:i + step], dtype=le).view(np.uint8).reshape(-1, row, size)
            planes = np.empty((block.shape[0], size, row), dtype=np.uint8)
            for k in range(size):
                planes[:, k] = block[:, :, k]
            f.write(memoryview(planes).cast("B"))
    else:
        raise ValueError(f"unknown array encoding {encoding!r}")


class Scene:
    """A scene on disk. Arrays are read lazily, once, on first access.

    Typical use::

        scene = load_scene("scenes/000001")
        K, c2w = scene.intrinsics, scene.cam_to_world      # (T,3,3), (T,4,4)
        if scene.has("tracks_world"): ...
        rgb = scene.frame(0)                                # (H,W,3) uint8
    """

    def __init__(self, root: Path, meta: SceneMeta, arrays: Mapping[str, np.ndarray] | None = None):
        self.root = Path(root)
        self.meta = meta
        self._arrays: dict[str, np.ndarray] = dict(arrays or {})
        self._npz: np.lib.npyio.NpzFile | None = None
        self._keys: set[str] | None = set(self._arrays) if arrays is not None else None

    # -- metadata shortcuts -------------------------------------------------
    @property
    def scene_id(self) -> str:
        return self.meta.scene_id

    @property
    def num_frames(self) -> int:
        return self.meta.num_frames

    @property
    def objects(self) -> list[SceneObject]:
        return self.meta.objects

    @property
    def world_up(self) -> np.ndarray:
        up = np.asarray(self.meta.world_up, dtype=np.float64)
        return up / np.linalg.norm(up)

    def object_index(self, object_id: int) -> int:
        """Row of `object_id` in the per-object arrays (object_to_world, ...)."""
        for i, o in enumerate(self.meta.objects):
            if o.id == object_id:
                return i
        raise KeyError(f"scene {self.scene_id}: no object with id {object_id}")

    def object(self, object_id: int) -> SceneObject:
        return self.meta.objects[self.object_index(object_id)]

    # -- arrays ---------------------------------------------------------------
    def _open(self) -> np.lib.npyio.NpzFile:
        if self._npz is None:
            path = self.root / ARRAYS_FILE
            try:
                resolve_inside(self.root, ARRAYS_FILE)
            except ValueError as e:
                raise SceneError(f"{path}: {e}") from None
            try:
                npz = np.load(path, allow_pickle=False)
            except Exception as e:  # noqa: BLE001  (zip, zlib, EOF, npy header errors: all unreadable)
                raise SceneError(f"{path}: cannot read ({type(e).__name__}: {e})") from e
            if not hasattr(npz, "files"):
                raise SceneError(f"{path}: a single .npy array, not an .npz archive")
            self._npz = npz
        return self._npz

    def keys(self) -> set[str]:
        if self._keys is None:
            self._keys = set(self._open().files)
        return self._keys

    def has(self, name: str) -> bool:
        return name in self.keys()

    def array(self, name: str) -> np.ndarray:
        if name not in self._arrays:
            if not self.has(name):
                raise SceneError(f"{self.root / ARRAYS_FILE}: missing array {name!r}")
            try:
                stored = self._open()[name]
            except Exception as e:  # noqa: BLE001  (a corrupt member of the archive)
                raise SceneError(f"{self.root / ARRAYS_FILE}: array {name!r} cannot be read ({type(e).__name__}: {e})") from e
            try:
                self._arrays[name] = decode_array(name, stored, self.meta.array_encodings.get(name))
            except ValueError as e:
                raise SceneError(f"{self.root / ARRAYS_FILE}: array {name!r}: {e}") from None
        return self._arrays[name]

    def get(self, name: str) -> np.ndarray | None:
        return self.array(name) if self.has(name) else None

    def __getattr__(self, name: str) -> np.ndarray:
        # scene.depth, scene.tracks_world, ... for the documented arrays only.
        if name in ARRAY_SPECS:
            return self.array(name)
        raise AttributeError(name)

    # -- frames ---------------------------------------------------------------
    def frame_path(self, t: int) -> Path:
        """Path of frame t; a frame entry that leads outside the scene directory (absolute, `..`,
        or through a symlink) raises SceneError."""
        try:
            return resolve_inside(self.root, self.meta.frames[t])
        except ValueError as e:
            raise SceneError(f"{self.root / META_FILE}: frames[{t}]: {e}") from None

    def frame(self, t: int) -> np.ndarray:
        """RGB frame t as (H, W, 3) uint8."""
        from PIL import Image

        with Image.open(self.frame_path(t)) as im:
            return np.asarray(im.convert("RGB"))

    def close(self) -> None:
        if self._npz is not None:
            self._npz.close()
            self._npz = None

    def __repr__(self) -> str:
        return f"Scene({self.scene_id!r}, T={self.num_frames}, objects={len(self.objects)}, root={str(self.root)!r})"


def read_meta(scene_dir: str | os.PathLike[str]) -> SceneMeta:
    path = Path(scene_dir) / META_FILE
    try:
        resolve_inside(scene_dir, META_FILE)
    except ValueError as e:
        raise SceneError(f"{path}: {e}") from None
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SceneError(f"{path}: cannot read ({e.strerror})") from e
    except UnicodeDecodeError as e:
        raise SceneError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SceneError(f"{path}: invalid JSON ({e})") from e
    return SceneMeta.from_json(data, where=str(path))


def load_scene(scene_dir: str | os.PathLike[str]) -> Scene:
    """Open a scene directory. Raises SceneError on unreadable metadata."""
    return Scene(Path(scene_dir), read_meta(scene_dir))


def iter_scene_dirs(root: str | os.PathLike[str]) -> Iterator[Path]:
    """Scene directories under `root` (itself, or its sub-directories), sorted by name."""
    root = Path(root)
    if (root / META_FILE).exists():
        yield root
        return
    for p in sorted(root.iterdir()):
        if p.is_dir() and (p / META_FILE).exists():
            yield p


# -- writing ------------------------------------------------------------------

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def save_npz(
    path: str | os.PathLike[str],
    arrays: Mapping[str, np.ndarray],
    compress: bool = True,
    encodings: Mapping[str, str] | None = None,
) -> None:
    """Like np.savez_compressed, but byte-identical for identical input (fixed zip timestamps,
    sorted keys) and atomic (qa4d._io.atomic_file: temporary file, fsync, rename).

    `encodings`: {name: encoding of ARRAY_ENCODINGS} for arrays to store encoded; the reader must
    be told (scene.json `array_encodings`, as write_scene does)."""
    encodings = dict(encodings or {})
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_file(path) as out, zipfile.ZipFile(out, "w", compression=mode, allowZip64=True) as zf:
        for name in sorted(arrays):
            arr = np.asarray(arrays[name])
            if encodings.get(name) == "byte_planes" and name in ARRAY_SPECS and arr.dtype != ARRAY_SPECS[name][0]:
                raise ValueError(f"{name}: byte planes are stored of the format's {ARRAY_SPECS[name][0]}, got {arr.dtype}")
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_EPOCH)
            info.compress_type = mode
            info.external_attr = 0o644 << 16
            # ZipFile.open(info, "w") takes the level from the ZipInfo only (writestr would set it);
            # the attribute is public from Python 3.13, private before.
            level = 1 if compress else None
            setattr(info, "compress_level" if hasattr(info, "compress_level") else "_compresslevel", level)
            # Streamed into the archive: no in-memory copy of the (large) depth and mask arrays.
            # A seekable file gets no data descriptor; zip64 is decided up front like writestr does.
            with zf.open(info, "w", force_zip64=arr.nbytes * 1.05 > zipfile.ZIP64_LIMIT) as f:
                _write_npy(f, arr, encodings.get(name))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(tag)))


def encode_png(img: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of an 8-bit image (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA.

    Filter type 0 on every row and one zlib stream at `level`: about 3x faster than PIL's
    adaptive filtering at compress_level=1, and no larger on rendered frames (measured in
    docs/benchmarks.md). Deterministic: same pixels, same bytes.
    """
    a = np.asarray(img)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError(f"encode_png: need uint8 (H,W), (H,W,3) or (H,W,4), got {a.dtype} {a.shape}")
    h, w = a.shape[:2]
    channels = 1 if a.ndim == 2 else a.shape[2]
    rows = np.empty((h, 1 + w * channels), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    src = a.reshape(h, w, channels)
    if src.strides[2] == 1:
        # whole pixels of C bytes at a time, from any view whose channels are adjacent (a rendered
        # RGBA buffer's [..., :3]) straight into the rows: 2x faster than byte by byte
        np.copyto(rows[:, 1:].view(f"V{channels}"), src.view(f"V{channels}")[..., 0])
    else:
        rows[:, 1:] = src.reshape(h, w * channels)
    colour_type = {1: 0, 3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return b"".join((
        b"\x89PNG\r\n\x1a\n",
        _png_chunk(b"IHDR", header),
        _png_chunk(b"IDAT", zlib.compress(rows, level)),
        _png_chunk(b"IEND", b""),
    ))


def write_json_atomic(path: str | os.PathLike[str], data: Any) -> None:
    """scene.json text (ASCII, 2-space indent), written with qa4d._io's atomic write."""
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_scene(
    scene_dir: str | os.PathLike[str],
    meta: SceneMeta,
    arrays: Mapping[str, np.ndarray],
    frames: list[np.ndarray] | None = None,
    image_format: str = "png",
    encode: bool = True,
) -> Path:
    """Write a whole scene atomically: everything goes to a sibling temporary directory that
    is renamed into place at the end, so a crash never leaves a half-written scene.

    `frames`, if given, are (H,W,3) uint8 images written to frames/000000.png ... and
    `meta.frames` is set to match. Arrays are cast to the dtypes of the format; with `encode`,
    depth and the instance mask are stored encoded (`choose_encodings`; exactly the same values
    when read back) and `meta.array_encodings` says so; without, every member is a plain .npy.
    """
    from PIL import Image

    scene_dir = Path(scene_dir)
    tmp = make_temp_dir(scene_dir)  # .NAME.<random>.tmp, removed on error (or by a resumed run)
    try:
        if frames is not None:
            (tmp / "frames").mkdir()
            ext = {"png": "png", "jpeg": "jpg", "jpg": "jpg"}[image_format]
            names = []
            for t, img in enumerate(frames):
                name = f"frames/{t:06d}.{ext}"
                if ext == "png":
                    write_bytes_atomic(tmp / name, encode_png(np.asarray(img, dtype=np.uint8)))
                else:
                    buf = io.BytesIO()
                    Image.fromarray(np.asarray(img, dtype=np.uint8)).save(buf, format="JPEG", quality=95)
                    write_bytes_atomic(tmp / name, buf.getvalue())
                names.append(name)
            meta.frames = names
        encodings = choose_encodings(arrays) if encode else {}
        cast = {}
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if name in ARRAY_SPECS:
                # a mask stored as uint8 is not widened to int32 first (the encoding checks its range)
                target = "uint8" if encodings.get(name) == "uint8" else ARRAY_SPECS[name][0]
                arr = arr.astype(target, copy=False)
            cast[name] = arr
        save_npz(tmp / ARRAYS_FILE, cast, encodings=encodings)
        meta.array_encodings = encodings
        write_json_atomic(tmp / META_FILE, meta.to_json())
        if scene_dir.exists():
            shutil.rmtree(scene_dir)
        os.replace(tmp, scene_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return scene_dir
