"""Checks a scene directory against format v1 and reports every problem it finds.

Each problem names the scene, the field and what is wrong. Checks never raise on bad data:
a broken scene yields problems, not exceptions, so batch callers can report it and go on.
`check_scenes` checks a collection (what `qa4d validate` and `qa4d generate` both run): every
scene on its own, then scene ids that more than one scene uses.
"""

from __future__ import annotations

import json
import math
import re
import sys
import zipfile
from dataclasses import dataclass, field as dc_field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from qa4d._io import resolve_inside
from qa4d.geometry.camera import rigid_error
from qa4d.scene.format import (
    ARRAY_SPECS, ARRAYS_FILE, FORMAT, META_FILE, REQUIRED_ARRAYS, TRACK_OWNER_UNKNOWN,
    array_encodings_problem, decode_array,
)

RIGID_TOL = 1e-4  # float64 poses from any sane source are orthonormal far below this
MAX_ABS_COORD = 1e6  # metres; anything beyond is a unit bug, not a scene


@dataclass(frozen=True)
class Problem:
    scene: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.scene}: {self.field}: {self.message}"


# A scene id names files and directories of a dataset (media/<scene_id>/...): a plain name only.
SCENE_ID_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,198}[A-Za-z0-9])?")


@dataclass
class SceneReport:
    """The outcome of checking one scene directory: its id (None when unreadable) and problems."""

    path: Path
    scene_id: str | None
    problems: list[Problem] = dc_field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def validate_scene(scene_dir: str | Path, check_frames: bool = True) -> list[Problem]:
    """All problems of one scene directory; an empty list means the scene is valid."""
    return check_scene(scene_dir, check_frames).problems


def check_scene(scene_dir: str | Path, check_frames: bool = True) -> SceneReport:
    """Check one scene directory. Never raises on bad data: an unexpected error while reading or
    checking becomes a problem too."""
    return check_scene_arrays(scene_dir, check_frames)[0]


def check_scene_arrays(scene_dir: str | Path, check_frames: bool = True) -> tuple[SceneReport, dict[str, np.ndarray] | None]:
    """`check_scene`, and the arrays of arrays.npz it read (every member, as np.load gives it) when
    the scene has no problem, else None: a caller that goes on to use the scene (qa4d generate)
    need not decompress them again (qa4d.scene.format.Scene(root, meta, arrays))."""
    scene_dir = Path(scene_dir)
    name = str(scene_dir)
    report = SceneReport(scene_dir, None)

    def bad(field: str, message: str) -> None:
        report.problems.append(Problem(name, field, message))

    stage = META_FILE
    arrays = None
    try:
        meta = _check_meta(scene_dir, bad)
        if meta is None:
            return report, None
        if isinstance(meta.get("scene_id"), str):
            report.scene_id = meta["scene_id"]
        stage = ARRAYS_FILE
        arrays = _load_arrays(scene_dir, bad, meta.get("array_encodings", {}))
        if arrays is None:
            return report, None
        _check_arrays(meta, arrays, bad)
        _check_partial(meta, arrays, bad)
        stage = "frames"
        _check_frames(scene_dir, meta, bad, decode=check_frames)
    except Exception as e:  # noqa: BLE001  (whatever is broken, the scene is reported, not fatal)
        bad(stage, f"cannot be checked ({_describe(e)})")
    return report, (arrays if report.ok else None)


def scene_dirs(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """Scene directories named by `paths` (each itself a scene, when it holds scene.json or
    arrays.npz, or else a parent whose non-hidden sub-directories are all taken as scenes: a broken
    one is still reported), and the paths that hold none."""
    scenes, empty = [], []
    for p in map(Path, paths):
        if (p / META_FILE).exists() or (p / ARRAYS_FILE).exists() or not p.is_dir():
            scenes.append(p)
            continue
        found = sorted(c for c in p.iterdir() if c.is_dir() and not c.name.startswith("."))
        if found:
            scenes.extend(found)
        else:
            empty.append(p)
    return scenes, empty


def _check_one(job: tuple[str, bool]) -> SceneReport:
    return check_scene(job[0], job[1])


def check_scenes(
    dirs: Sequence[str | Path], check_frames: bool = True, workers: int = 1, desc: str = "validate"
) -> list[SceneReport]:
    """Check each scene of a collection (in `workers` processes), then the collection: a
    scene_id used by more than one scene is a problem of each of them. Reports in `dirs` order."""
    from tqdm import tqdm

    jobs = [(str(d), check_frames) for d in dirs]
    bar = tqdm(total=len(jobs), desc=desc, unit="scene", disable=None, file=sys.stderr)
    reports: list[SceneReport] = []
    try:
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp

            with mp.get_context("fork").Pool(min(workers, len(jobs))) as pool:
                for r in pool.imap(_check_one, jobs):
                    reports.append(r)
                    bar.update(1)
        else:
            for job in jobs:
                reports.append(_check_one(job))
                bar.update(1)
    finally:
        bar.close()
    return mark_shared_ids(reports)


def mark_shared_ids(reports: list[SceneReport]) -> list[SceneReport]:
    """Add to each report whose scene_id another report also has a problem naming the others (in
    place; every scene of such a group is then invalid, none wins). Returns `reports`."""
    by_id: dict[str, list[SceneReport]] = {}
    for r in reports:
        if r.scene_id is not None:
            by_id.setdefault(r.scene_id, []).append(r)
    for sid, group in by_id.items():
        if len(group) > 1:
            for r in group:
                others = ", ".join(str(o.path) for o in group if o is not r)
                r.problems.append(Problem(str(r.path), "scene_id", f"{sid!r} is also the scene_id of {others}"))
    return reports


# -- scene.json -------------------------------------------------------------------


def _check_meta(scene_dir: Path, bad) -> dict | None:
    path = scene_dir / META_FILE
    if not scene_dir.is_dir():
        bad("(directory)", "not a directory")
        return None
    try:
        resolve_inside(scene_dir, META_FILE)
    except ValueError as e:
        bad(META_FILE, f"must be a file of the scene directory: {e}")
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        bad(META_FILE, "missing")
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        bad(META_FILE, f"unreadable ({e})")
        return None
    if not isinstance(meta, dict):
        bad(META_FILE, "must be a JSON object")
        return None
    if meta.get("format") != FORMAT:
        bad("format", f"is {meta.get('format')!r}, expected {FORMAT!r}")
    types = {
        "scene_id": str, "source": str, "fps": (int, float), "width": int, "height": int,
        "num_frames": int, "world_up": list, "frames": list, "objects": list,
    }
    ok = True
    for key, typ in types.items():
        if key not in meta:
            bad(key, "missing")
            ok = False
        elif not isinstance(meta[key], typ) or isinstance(meta[key], bool):
            bad(key, f"has type {type(meta[key]).__name__}, expected {getattr(typ, '__name__', 'number')}")
            ok = False
    if not ok:
        return None
    sid = meta["scene_id"]
    if not SCENE_ID_RE.fullmatch(sid):
        bad("scene_id", f"must be a plain name (letters, digits, '.', '_', '-'; starting and ending with a "
                        f"letter or digit; at most 200 characters), got {sid!r}")
    if not meta["source"]:
        bad("source", "must be a non-empty string")
    if not math.isfinite(meta["fps"]) or meta["fps"] <= 0:
        bad("fps", f"must be a finite number > 0, got {meta['fps']}")
    for key in ("width", "height"):
        if meta[key] <= 0:
            bad(key, f"must be > 0, got {meta[key]}")
    if meta["num_frames"] != len(meta["frames"]):
        bad("num_frames", f"is {meta['num_frames']} but 'frames' lists {len(meta['frames'])} files")
    if meta["num_frames"] < 1:
        bad("num_frames", "must be >= 1")
    if "extra" in meta and not isinstance(meta["extra"], dict):
        bad("extra", f"must be a JSON object when present, got {type(meta['extra']).__name__}")
    up = meta["world_up"]
    if not _is_vector3(up):
        bad("world_up", f"must be 3 numbers, got {up!r}")
    elif not all(math.isfinite(v) for v in up):
        bad("world_up", f"must be finite, got {up!r}")
    elif abs(float(np.linalg.norm(up)) - 1.0) > 1e-6:
        bad("world_up", f"must be a unit vector, has norm {np.linalg.norm(up):.6g}")
    seen: set[int] = set()
    for i, obj in enumerate(meta["objects"]):
        where = f"objects[{i}]"
        if not isinstance(obj, dict):
            bad(where, "must be an object")
            continue
        oid = obj.get("id")
        if not isinstance(oid, int) or isinstance(oid, bool) or oid < 1:
            bad(f"{where}.id", f"must be an integer >= 1, got {oid!r}")
        elif oid in seen:
            bad(f"{where}.id", f"duplicate id {oid}")
        else:
            seen.add(oid)
        for key in ("category", "caption"):
            if not isinstance(obj.get(key), str) or not obj.get(key):
                bad(f"{where}.{key}", "must be a non-empty string")
        if not isinstance(obj.get("is_agent"), bool):
            bad(f"{where}.is_agent", f"must be true or false, got {obj.get('is_agent')!r}")
        fwd = obj.get("forward_axis")
        if not _is_vector3(fwd):
            bad(f"{where}.forward_axis", f"must be 3 numbers, got {fwd!r}")
        elif not all(math.isfinite(v) for v in fwd):
            bad(f"{where}.forward_axis", f"must be finite, got {fwd!r}")
        elif np.linalg.norm(fwd) < 1e-9:
            bad(f"{where}.forward_axis", "must be non-zero")
    captions = [o.get("caption") for o in meta["objects"] if isinstance(o, dict)]
    dups = sorted({c for c in captions if isinstance(c, str) and captions.count(c) > 1})
    if dups:
        bad("objects", f"captions must identify objects uniquely; repeated: {dups}")
    return meta


def _is_vector3(v) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)


# -- arrays.npz -------------------------------------------------------------------


def _load_arrays(scene_dir: Path, bad, encodings: object = None) -> dict[str, np.ndarray] | None:
    path = scene_dir / ARRAYS_FILE
    try:
        resolve_inside(scene_dir, ARRAYS_FILE)
    except ValueError as e:
        bad(ARRAYS_FILE, f"must be a file of the scene directory: {e}")
        return None
    if not path.exists():
        bad(ARRAYS_FILE, "missing")
        return None
    if not path.is_file():
        bad(ARRAYS_FILE, "is not a file")
        return None
    if not zipfile.is_zipfile(path):
        bad(ARRAYS_FILE, "is not an .npz (zip) archive" + (" (empty file)" if path.stat().st_size == 0 else ""))
        return None
    arrays: dict[str, np.ndarray] = {}
    name = None
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name in npz.files:
                arr = npz[name]
                if not isinstance(arr, np.ndarray):
                    bad(ARRAYS_FILE, f"member {name!r} is not a NumPy .npy array")
                    return None
                arrays[name] = arr
    except Exception as e:  # noqa: BLE001  (zip, zlib, npy header errors all mean: unreadable)
        where = f"array {name!r} " if name is not None else ""
        bad(ARRAYS_FILE, f"{where}unreadable ({_describe(e)})")
        return None
    return _decode_arrays(arrays, encodings, bad)


def _decode_arrays(arrays: dict[str, np.ndarray], encodings: object, bad) -> dict[str, np.ndarray] | None:
    """The arrays with scene.json's `array_encodings` undone (qa4d.scene.format.decode_array)."""
    if encodings is None:
        return arrays
    problem = array_encodings_problem(encodings)
    if problem is not None:
        bad("array_encodings", problem)
        return None
    for name, enc in encodings.items():  # type: ignore[attr-defined]
        if name not in arrays:
            bad(name, f"array_encodings names it ({enc!r}) but arrays.npz has no such array")
            return None
        try:
            arrays[name] = decode_array(name, arrays[name], enc)
        except ValueError as e:
            bad(name, str(e))
            return None
    return arrays


def _describe(e: BaseException) -> str:
    """'zlib.error: ...', 'ValueError: ...': an exception as a reader would want to see it."""
    mod = type(e).__module__
    name = type(e).__name__ if mod == "builtins" else f"{mod}.{type(e).__name__}"
    return f"{name}: {e}"


def _distinct(a: np.ndarray) -> np.ndarray:
    """np.unique of an integer array (any shape), by counting when its values are small and
    non-negative (ids in a mask: about 10x faster than sorting or hashing every pixel)."""
    if a.size and a.dtype.kind in "iu":
        lo, hi = int(a.min()), int(a.max())
        if lo >= 0 and hi < max(1 << 16, a.size):
            return np.flatnonzero(np.bincount(a.reshape(-1)))
    return np.unique(a)


def _check_arrays(meta: dict, arrays: dict[str, np.ndarray], bad) -> None:
    t_len = meta["num_frames"]
    sizes = {"T": t_len, "H": meta["height"], "W": meta["width"], "K": len(meta["objects"])}
    n_tracks = arrays["tracks_world"].shape[0] if "tracks_world" in arrays and arrays["tracks_world"].ndim == 3 else None
    if n_tracks is not None:
        sizes["N"] = n_tracks
    for name in REQUIRED_ARRAYS:
        if name not in arrays:
            bad(name, "missing (required)")
    shaped_ok: set[str] = set()
    for name, (dtype, pattern) in ARRAY_SPECS.items():
        if name not in arrays:
            continue
        arr = arrays[name]
        expected = tuple(sizes.get(d, d) if isinstance(d, str) else d for d in pattern)
        if arr.dtype != np.dtype(dtype):
            bad(name, f"has dtype {arr.dtype}, expected {dtype}")
        if arr.shape != expected:
            want = "(" + ", ".join(f"{p}={sizes[p]}" if isinstance(p, str) and p in sizes else str(p) for p in pattern) + ")"
            bad(name, f"has shape {arr.shape}, expected {want}")
        elif arr.dtype == np.dtype(dtype):
            shaped_ok.add(name)
    track_group = {"tracks_world", "tracks_visible", "tracks_object"}
    present = track_group & set(arrays)
    if present and present != track_group:
        bad("tracks_*", f"tracks_world, tracks_visible and tracks_object go together; missing {sorted(track_group - present)}")

    if "intrinsics" in shaped_ok:
        k = arrays["intrinsics"]
        if not np.isfinite(k).all():
            bad("intrinsics", "contains NaN or inf")
        else:
            fx, fy = k[:, 0, 0], k[:, 1, 1]
            bottom = np.abs(k[:, 2] - np.array([0.0, 0.0, 1.0])).max()
            if (fx <= 0).any() or (fy <= 0).any():
                bad("intrinsics", f"focal lengths must be > 0 (frame {int(np.argmax((fx <= 0) | (fy <= 0)))})")
            if bottom > 1e-9 or np.abs(k[:, 1, 0]).max() > 1e-9:
                bad("intrinsics", "must be upper triangular with last row [0, 0, 1]")
    if "cam_to_world" in shaped_ok:
        _check_poses(arrays["cam_to_world"], "cam_to_world", bad, allow_nan=False)
    if "object_to_world" in shaped_ok:
        _check_poses(arrays["object_to_world"], "object_to_world", bad, allow_nan=True)
    if "depth" in shaped_ok:
        d = arrays["depth"]
        if not np.isfinite(d).all():
            bad("depth", "contains NaN or inf (use 0 for unknown)")
        elif (d < 0).any():
            t = int(np.argwhere(d < 0)[0][0])
            bad("depth", f"negative values (first in frame {t}, min {float(d.min()):.4g})")
    ids = {o["id"] for o in meta["objects"] if isinstance(o, dict) and isinstance(o.get("id"), int)}
    if "instance_mask" in shaped_ok:
        present_ids = set(_distinct(arrays["instance_mask"]).tolist()) - {0}
        unknown = sorted(present_ids - ids)
        if unknown:
            bad("instance_mask", f"ids {unknown[:10]} have no object in scene.json")
        if (arrays["instance_mask"] < 0).any():
            bad("instance_mask", "negative ids")
    if "object_extent" in shaped_ok:
        e = arrays["object_extent"][_rigid_rows(meta)]  # non-rigid objects: see _check_partial
        if not np.isfinite(e).all() or (e <= 0).any():
            bad("object_extent", "must be finite and > 0")
    if "tracks_world" in shaped_ok:
        x = arrays["tracks_world"]
        if not np.isfinite(x).all():
            bad("tracks_world", "contains NaN or inf")
        elif np.abs(x).max(initial=0) > MAX_ABS_COORD:
            bad("tracks_world", f"coordinates beyond {MAX_ABS_COORD:g} m")
    if "tracks_object" in shaped_ok:
        unknown = sorted(set(np.unique(arrays["tracks_object"]).tolist()) - ids - {0, TRACK_OWNER_UNKNOWN})
        if unknown:
            bad("tracks_object", f"ids {unknown[:10]} have no object in scene.json")
    if "object_visible" in shaped_ok and "object_to_world" in shaped_ok:
        nan_pose = ~np.isfinite(arrays["object_to_world"]).all(axis=(-1, -2))
        clash = nan_pose & arrays["object_visible"] & _rigid_rows(meta)[:, None]  # non-rigid: no pose
        if clash.any():
            k, t = (int(v) for v in np.argwhere(clash)[0])
            bad("object_visible", f"object {k} is visible in frame {t} but its pose is unknown (NaN)")


# -- partial scenes (converted real data) ---------------------------------------------
# Rules for what a converted scene may leave unknown. `tracks_object` may hold
# TRACK_OWNER_UNKNOWN (-1): the owner of that track is not known (not "background"). An object
# with "rigid": false deforms: it has no rigid pose (object_to_world all NaN), may be visible
# without one, and its object_extent may be NaN (unknown) or a positive box.


def _rigid_rows(meta: dict) -> np.ndarray:
    """(K,) bool: objects that are rigid (the default), in the order of `objects`."""
    return np.array([not (isinstance(o, dict) and o.get("rigid", True) is False) for o in meta["objects"]], dtype=bool)


def _check_partial(meta: dict, arrays: dict[str, np.ndarray], bad) -> None:
    for i, obj in enumerate(meta["objects"]):
        if isinstance(obj, dict) and "rigid" in obj and not isinstance(obj["rigid"], bool):
            bad(f"objects[{i}].rigid", f"must be true or false, got {obj['rigid']!r}")
    rigid = _rigid_rows(meta)
    k = len(rigid)
    o2w = arrays.get("object_to_world")
    if o2w is not None and o2w.dtype.kind == "f" and o2w.ndim == 4 and o2w.shape[:1] == (k,):
        for i in np.flatnonzero(~rigid):
            if not np.isnan(o2w[i]).all():
                bad("object_to_world", f"object {i} is non-rigid (\"rigid\": false) but has a pose; "
                                       "a deforming object's pose must be all NaN")
    ext = arrays.get("object_extent")
    if ext is not None and ext.dtype.kind == "f" and ext.shape == (k, 3):
        for i in np.flatnonzero(~rigid):
            e = ext[i]
            if not (np.isnan(e).all() or (np.isfinite(e).all() and (e > 0).all())):
                bad("object_extent", f"object {i} (non-rigid) must have a positive box or all NaN")


def _check_poses(poses: np.ndarray, name: str, bad, allow_nan: bool) -> None:
    finite = np.isfinite(poses).all(axis=(-1, -2))
    partial = ~finite & ~np.isnan(poses).all(axis=(-1, -2))
    if not allow_nan and not finite.all():
        idx = tuple(int(v) for v in np.argwhere(~finite)[0])
        bad(name, f"NaN or inf pose at index {idx}")
    if allow_nan and partial.any():
        idx = tuple(int(v) for v in np.argwhere(partial)[0])
        bad(name, f"pose at index {idx} is partly NaN (unknown poses must be all NaN)")
    if finite.any():
        err = np.where(finite, rigid_error(np.where(finite[..., None, None], poses, np.eye(4))), 0.0)
        if (err > RIGID_TOL).any():
            idx = tuple(int(v) for v in np.argwhere(err > RIGID_TOL)[0])
            bad(name, f"not a rigid transform at index {idx} (rotation not orthonormal with det +1, "
                      f"or last row not [0,0,0,1]; error {float(err.max()):.3g})")
        trans = np.where(finite[..., None], poses[..., :3, 3], 0.0)
        if np.abs(trans).max(initial=0) > MAX_ABS_COORD:
            bad(name, f"translation beyond {MAX_ABS_COORD:g} m")


# -- frames ------------------------------------------------------------------------


def _check_frames(scene_dir: Path, meta: dict, bad, decode: bool = True) -> None:
    """Frame entries stay inside the scene (always checked: it costs nothing); with `decode`, each
    file exists, is a PNG or JPEG of the scene's size and decodes in full."""
    from PIL import Image

    for t, rel in enumerate(meta["frames"]):
        where = f"frames[{t}]"
        try:
            path = resolve_inside(scene_dir, rel)
        except ValueError as e:
            bad(where, f"must be a relative path inside the scene: {e}")
            continue
        if not decode:
            continue
        if not path.exists():
            bad(where, f"file {rel} is missing")
            continue
        if not path.is_file():
            bad(where, f"{rel} is not a file")
            continue
        if path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            bad(where, f"{rel} must be PNG or JPEG")
        # Decoded in full: a truncated or corrupt file often has a valid header.
        try:
            with Image.open(path) as im:
                size = im.size
                if im.format not in ("PNG", "JPEG"):
                    bad(where, f"{rel} is {im.format}, not PNG or JPEG")
                    continue
                if size != (meta["width"], meta["height"]):
                    bad(where, f"{rel} is {size[0]}x{size[1]}, scene.json says {meta['width']}x{meta['height']}")
                    continue
                im.load()
        except Exception as e:  # noqa: BLE001  (PIL raises OSError, SyntaxError, ValueError, ...)
            bad(where, f"{rel} is not a readable image ({_describe(e)})")
