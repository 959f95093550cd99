"""Shared machinery of the dataset converters: registry, settings, strict readers, geometry.

A converter is a subclass of `Converter` in its own module of `qa4d.sources.converters`,
decorated with `@register_converter`. It finds the items (clips, sequences) under SRC and turns
one item into a `Converted` scene (metadata, arrays, frames); `convert_all` writes them.

Errors about the source are `ConvertError`s with one line: `FILE: key 'K': expected E, got A`.
Converters read only below SRC (`inside` rejects paths, including symlinks, that lead out).
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from qa4d.scene.format import SceneMeta

CONVERTER_VERSION = 1  # bump when a converter's output changes for the same input


class ConvertError(ValueError):
    """A source that cannot be converted; the message names the file and the key."""


def fail(file: Any, key: str, expected: str, actual: Any) -> ConvertError:
    """The one-line error: FILE: key 'K': expected E, got A."""
    return ConvertError(f"{file}: key {key!r}: expected {expected}, got {actual}")


@dataclass(frozen=True)
class ConvertSettings:
    """How frames are taken from a source: every `stride`-th frame, at most `max_frames` of them.

    `fps`, when given, is the frame rate of the *source* (overriding what the converter knows);
    the scene's fps is source fps / stride.
    """

    max_frames: int | None = None
    stride: int = 1
    fps: float | None = None

    def frames(self, num_frames: int) -> np.ndarray:
        """Source frame indices kept, (T',) int64."""
        idx = np.arange(0, num_frames, self.stride, dtype=np.int64)
        return idx[: self.max_frames] if self.max_frames else idx

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Converted:
    """One converted scene, ready for `write_scene`."""

    meta: SceneMeta
    arrays: dict[str, np.ndarray]
    frames: list[np.ndarray]


class Converter:
    """A dataset converter. Subclasses set the attributes and implement `find` and `convert`."""

    name = ""
    licence = ""             # licence note recorded in every scene's extra
    description = ""         # one line for `qa4d convert --help`

    def find(self, src: Path) -> list[Path]:
        """The items (files or directories) under `src` to convert, sorted."""
        raise NotImplementedError

    @staticmethod
    def npz_files(src: Path) -> list[Path]:
        """`find` for formats whose items are single .npz files: `src` itself when it is a file,
        else every .npz file below it, sorted."""
        if src.is_file():
            return [src]
        return sorted(p for p in src.rglob("*.npz") if p.is_file())

    def convert(self, item: Path, src: Path, settings: ConvertSettings) -> Converted:
        raise NotImplementedError

    # helper for subclasses: the common `extra` block
    def extra(self, item: Path, src: Path, settings: ConvertSettings, frames: np.ndarray, source_fps: float,
              fps_from: str, **more: Any) -> dict[str, Any]:
        rel = item.relative_to(src).as_posix() if item != src else item.name
        block = {
            "converter": self.name,
            "converter_version": CONVERTER_VERSION,
            "item": rel,
            "licence": self.licence,
            "settings": settings.to_json(),
            "source_fps": float(source_fps),
            "fps_from": fps_from,
            "source_frames": [int(t) for t in frames],
        }
        block.update(more)
        return {"convert": block}


_CONVERTERS: dict[str, type[Converter]] = {}
_LOADED = False


def register_converter(cls: type[Converter]) -> type[Converter]:
    """Class decorator: register a converter under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__name__}: converters need a name")
    if cls.name in _CONVERTERS and _CONVERTERS[cls.name] is not cls:
        raise ValueError(f"converter {cls.name!r} is registered twice")
    _CONVERTERS[cls.name] = cls
    return cls


def _load_all() -> None:
    global _LOADED
    if _LOADED:
        return
    import qa4d.sources.converters as pkg

    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if not info.name.startswith("_") and info.name != "base":
            importlib.import_module(f"{pkg.__name__}.{info.name}")
    _LOADED = True


def converter_names() -> list[str]:
    _load_all()
    return sorted(_CONVERTERS)


def get_converter(name: str) -> Converter:
    _load_all()
    if name not in _CONVERTERS:
        raise ConvertError(f"unknown converter {name!r} (known: {', '.join(sorted(_CONVERTERS))})")
    return _CONVERTERS[name]()


# ------------------------------------------------------------------------------ reading


def inside(root: Path, path: Path) -> Path:
    """`path` if it resolves (following symlinks) to a place below `root`; else ConvertError."""
    real, base = Path(path).resolve(), Path(root).resolve()
    if real != base and base not in real.parents:
        raise ConvertError(f"{path}: leads outside the source {root} (to {real}); refusing to read it")
    return Path(path)


def scene_name(*parts: str) -> str:
    """A scene id from name parts: lower-case letters, digits, '_', '-' and '.' only."""
    return "_".join(re.sub(r"[^A-Za-z0-9_.-]+", "-", p).strip("-") for p in parts if p)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    """All arrays of an .npz (no pickle); ConvertError when unreadable."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise ConvertError(f"{path}: cannot read as .npz ({e})") from e


def shape_text(pattern: tuple[Any, ...], sizes: Mapping[str, int]) -> str:
    return "(" + ", ".join(f"{p}={sizes[p]}" if isinstance(p, str) and p in sizes else str(p) for p in pattern) + ")"


def need(data: Mapping[str, Any], key: str, file: Any, shape: tuple[Any, ...] | None = None,
         kind: str | None = None, sizes: dict[str, int] | None = None, label: str | None = None) -> np.ndarray:
    """data[key] as an array, checked: present, dtype kind in `kind` (e.g. "fiu", "b", "S"),
    shape matching `shape` (ints fixed; letters bound in `sizes` on first use; None any).
    Raises the one-line ConvertError naming `file` and `key` (or `label`, its full name)."""
    name = label or key
    if key not in data:
        raise fail(file, name, "present", f"missing (keys: {', '.join(sorted(data))})")
    arr = np.asarray(data[key])
    if kind is not None and arr.dtype.kind not in kind:
        raise fail(file, name, f"dtype kind in {kind!r}", f"{arr.dtype}")
    if shape is not None:
        sizes = {} if sizes is None else sizes
        ok = arr.ndim == len(shape)
        if ok:
            for p, n in zip(shape, arr.shape):
                if p is None:
                    continue
                if isinstance(p, str):
                    if p not in sizes:
                        sizes[p] = int(n)
                    if sizes[p] != n:
                        ok = False
                elif p != n:
                    ok = False
        if not ok:
            raise fail(file, name, f"shape {shape_text(shape, sizes)}", f"shape {arr.shape}")
    return arr


def read_image(path: Path, what: str = "image", mode: str | None = "RGB") -> np.ndarray:
    """An image file as an array; `mode` None keeps the stored mode (palette indices, 16-bit)."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        raise fail(path, what, "an existing file", "missing")
    try:
        with Image.open(path) as im:
            if mode is not None:
                im = im.convert(mode)
            return np.asarray(im)
    except (OSError, UnidentifiedImageError) as e:
        raise fail(path, what, "a readable image", f"unreadable ({e})") from e


def read_uint16_png(path: Path, what: str) -> np.ndarray:
    """A single-channel 16-bit PNG as (H, W) uint16, checked."""
    a = read_image(path, what, mode=None)
    if a.ndim != 2 or a.dtype not in (np.uint16, np.int32, np.uint8):
        raise fail(path, what, "a single-channel 16-bit PNG", f"dtype {a.dtype} shape {a.shape}")
    if a.dtype == np.int32 and (a.min(initial=0) < 0 or a.max(initial=0) > 65535):
        raise fail(path, what, "values in [0, 65535]", f"range [{a.min()}, {a.max()}]")
    return a.astype(np.uint16)


def check_size(img: np.ndarray, path: Path, what: str, height: int, width: int) -> None:
    if img.shape[:2] != (height, width):
        raise fail(path, what, f"{width}x{height} pixels like the first frame", f"{img.shape[1]}x{img.shape[0]}")


# ------------------------------------------------------------------------------ geometry


def quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrices of quaternions (w, x, y, z), normalised first.

    q: (..., 4). Returns (..., 3, 3) float64.
    """
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def pose_matrix(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """[R t; 0 1] from rotations (..., 3, 3) and translations (..., 3). Returns (..., 4, 4)."""
    rotation = np.asarray(rotation, dtype=np.float64)
    out = np.zeros(rotation.shape[:-2] + (4, 4))
    out[..., :3, :3] = rotation
    out[..., :3, 3] = translation
    out[..., 3, 3] = 1.0
    return out


def pinhole(fx: Any, fy: Any, cx: Any, cy: Any) -> np.ndarray:
    """K (..., 3, 3) from broadcastable focal lengths and principal point (pixels)."""
    fx, fy, cx, cy = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (fx, fy, cx, cy)))
    k = np.zeros(fx.shape + (3, 3))
    k[..., 0, 0], k[..., 1, 1], k[..., 0, 2], k[..., 1, 2], k[..., 2, 2] = fx, fy, cx, cy, 1.0
    return k


def orthonormalise(poses: np.ndarray) -> np.ndarray:
    """Poses (..., 4, 4) with rotations snapped to the nearest rotation (SVD): float32 sources
    carry errors near 1e-7 that are harmless but are removed so rigidity checks stay strict."""
    poses = np.array(poses, dtype=np.float64)
    u, _, vt = np.linalg.svd(poses[..., :3, :3])
    d = np.sign(np.linalg.det(u @ vt))
    u[..., :, 2] *= d[..., None]
    poses[..., :3, :3] = u @ vt
    poses[..., 3, :] = (0.0, 0.0, 0.0, 1.0)
    return poses


def estimated_up(cam_to_world: np.ndarray) -> list[float]:
    """World up estimated as the mean camera 'up' (-y in OpenCV axes) over frames, unit (3,).

    cam_to_world: (T, 4, 4). Right for a camera held roughly level (driving, walking, tripods).
    """
    up = -np.asarray(cam_to_world, dtype=np.float64)[:, :3, 1].mean(axis=0)
    return [float(v) for v in up / np.linalg.norm(up)]


def fill_invalid(points: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Positions at invalid frames held from the last valid frame (before the first valid frame:
    from the first). These frames are marked not visible; the values only keep arrays finite.

    points (N, T, ...) (positions (N, T, 3) or poses (N, T, 4, 4)); valid (N, T) bool, every row
    with at least one True. Returns an array shaped like `points`.
    """
    t = np.arange(points.shape[1])
    last = np.maximum.accumulate(np.where(valid, t, -1), axis=1)
    src = np.where(last >= 0, last, np.argmax(valid, axis=1)[:, None])
    return np.take_along_axis(points, src.reshape(src.shape + (1,) * (points.ndim - 2)), axis=1)


def rigid_point_tracks(
    depth: np.ndarray, mask: np.ndarray, intrinsics: np.ndarray, cam_to_world: np.ndarray,
    object_to_world: np.ndarray, object_ids: np.ndarray, per_object: int, background: int,
    depth_tol: float = 0.02,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact 3D point tracks of rigid objects and a static background from depth, masks and poses.

    For each object, pixels of its mask in the frame where it shows most are unprojected with the
    z-depth, expressed in the object's frame and carried by its poses; background pixels (mask 0,
    depth > 0) in frame 0 keep their world position. Points are taken evenly in raster order
    (deterministic). A point is visible in frame t when it projects inside the image in front of
    the camera, the depth map there agrees within `depth_tol` (relative) and the mask there
    names its owner. In frames where an object's pose is unknown (NaN) its points are held at the
    nearest earlier known pose and marked not visible.

    depth (T,H,W) z metres; mask (T,H,W) int ids; intrinsics (T,3,3); cam_to_world (T,4,4);
    object_to_world (K,T,4,4), NaN where unknown; object_ids (K,).
    Returns tracks_world (N,T,3) float32, tracks_visible (N,T) bool, tracks_object (N,) int32.
    """
    from qa4d.geometry import invert_rigid, project_world, transform_points, unproject

    t_len, h, w = depth.shape
    parts, owners, known_rows = [], [], []

    def pick(sel: np.ndarray, n: int) -> np.ndarray:
        flat = np.flatnonzero(sel)
        if len(flat) == 0 or n <= 0:
            return flat[:0]
        return flat[np.unique(np.linspace(0, len(flat) - 1, min(n, len(flat))).round().astype(np.int64))]

    def lift(t: int, flat: np.ndarray) -> np.ndarray:
        i, j = np.unravel_index(flat, (h, w))
        uv = np.stack([j + 0.5, i + 0.5], -1)
        cam = unproject(uv, depth[t][i, j], intrinsics[t])
        return transform_points(cam_to_world[t], cam)

    for k, oid in enumerate(object_ids):
        known = np.isfinite(object_to_world[k]).all(axis=(-1, -2))                     # (T,)
        counts = [np.count_nonzero((mask[t] == oid) & (depth[t] > 0)) if known[t] else 0 for t in range(t_len)]
        if max(counts, default=0) == 0:
            continue
        t0 = int(np.argmax(counts))
        flat = pick((mask[t0] == oid) & (depth[t0] > 0), per_object)
        local = transform_points(invert_rigid(object_to_world[k, t0]), lift(t0, flat))  # (n, 3)
        poses = fill_invalid(object_to_world[k][None], known[None])[0]                 # unknown: held, not visible
        parts.append(transform_points(poses[None], local[:, None, :]))
        owners.append(np.full(len(flat), oid))
        known_rows.append(np.repeat(known[None], len(flat), axis=0))
    flat = pick((mask[0] == 0) & (depth[0] > 0), background)
    if len(flat):
        bg = lift(0, flat)
        parts.append(np.repeat(bg[:, None, :], t_len, axis=1))
        owners.append(np.zeros(len(flat), np.int64))
        known_rows.append(np.ones((len(flat), t_len), bool))
    if not parts:
        return np.zeros((0, t_len, 3), np.float32), np.zeros((0, t_len), bool), np.zeros((0,), np.int32)
    world = np.concatenate(parts, axis=0)                      # (N, T, 3)
    owner = np.concatenate(owners).astype(np.int32)
    uv, z = project_world(world, intrinsics[None], cam_to_world[None])
    visible = np.zeros(world.shape[:2], dtype=bool)
    with np.errstate(invalid="ignore"):
        inside_img = (z > 0) & (uv[..., 0] >= 0) & (uv[..., 0] < w) & (uv[..., 1] >= 0) & (uv[..., 1] < h)
    n_idx, t_idx = np.nonzero(inside_img)
    cols = np.clip(np.floor(uv[n_idx, t_idx, 0]).astype(np.int64), 0, w - 1)
    rows = np.clip(np.floor(uv[n_idx, t_idx, 1]).astype(np.int64), 0, h - 1)
    d = depth[t_idx, rows, cols]
    ok = (np.abs(d - z[n_idx, t_idx]) <= depth_tol * np.maximum(z[n_idx, t_idx], 1e-6)) & (mask[t_idx, rows, cols] == owner[n_idx])
    visible[n_idx[ok], t_idx[ok]] = True
    return world.astype(np.float32), visible & np.concatenate(known_rows), owner
