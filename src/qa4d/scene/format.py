"""Scene format v1: the contract every source writes and every question family reads.

A scene is a directory (see docs/scene-format.md):

    scene.json     metadata: ids, fps, size, world up, frame paths, objects
    frames/        RGB frames (PNG or JPEG), one per time step
    arrays.npz     intrinsics (T,3,3), cam_to_world (T,4,4) and optional geometry

Camera axes follow OpenCV: x right, y down, z forward. Depth is z-depth in metres.
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
            )
        except (TypeError, ValueError) as e:
            raise SceneError(f"{where}: malformed field ({e})") from e


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
                self._arrays[name] = self._open()[name]
            except Exception as e:  # noqa: BLE001  (a corrupt member of the archive)
                raise SceneError(f"{self.root / ARRAYS_FILE}: array {name!r} cannot be read ({type(e).__name__}: {e})") from e
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


def save_npz(path: str | os.PathLike[str], arrays: Mapping[str, np.ndarray], compress: bool = True) -> None:
    """Like np.savez_compressed, but byte-identical for identical input (fixed zip timestamps,
    sorted keys) and atomic (qa4d._io.atomic_file: temporary file, fsync, rename)."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with atomic_file(path) as out, zipfile.ZipFile(out, "w", compression=mode, allowZip64=True) as zf:
        for name in sorted(arrays):
            arr = np.ascontiguousarray(arrays[name])
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
                np.lib.format.write_array(f, arr, allow_pickle=False)


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
    rows[:, 1:] = a.reshape(h, w * channels)
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
) -> Path:
    """Write a whole scene atomically: everything goes to a sibling temporary directory that
    is renamed into place at the end, so a crash never leaves a half-written scene.

    `frames`, if given, are (H,W,3) uint8 images written to frames/000000.png ... and
    `meta.frames` is set to match. Arrays are cast to the dtypes of the format.
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
        cast = {}
        for name, arr in arrays.items():
            arr = np.asarray(arr)
            if name in ARRAY_SPECS:
                arr = arr.astype(ARRAY_SPECS[name][0], copy=False)
            cast[name] = arr
        save_npz(tmp / ARRAYS_FILE, cast)
        write_json_atomic(tmp / META_FILE, meta.to_json())
        if scene_dir.exists():
            shutil.rmtree(scene_dir)
        os.replace(tmp, scene_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return scene_dir
