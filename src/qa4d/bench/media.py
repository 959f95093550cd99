"""Load the frames a model sees for one benchmark item.

- `media_kind == "images"`: the listed images in order; more than N are subsampled uniformly.
- `media_kind == "video"`: N frames sampled uniformly from the video (PyAV, which bundles
  ffmpeg), restricted to the item's time window `meta["time_start"]`..`meta["time_end"]`
  (seconds) when present, as STI-Bench specifies.

Media entries are relative to the media root and must stay inside it (no absolute path, no `..`,
no symlink leading out): one that does not is an error of that item (MediaError), never read.

An item's `prefix_images` (R4D-Bench's Set-of-Marks image) are shown before the sampled frames,
all of them and in order (`load_prefix_images`); they are never subsampled.

Uniform sampling picks indices `round(linspace(0, M - 1, N))` over the M available frames, the
same rule the published VLM4D and lmms-eval loaders use, so the first and last frames are kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from qa4d._io import resolve_inside
from qa4d.bench.types import BenchItem

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class MediaError(RuntimeError):
    """An item's media cannot be read (missing file, undecodable video, empty window)."""


@dataclass
class Frames:
    """Sampled frames of one item, with where they came from."""

    images: list[Image.Image]
    timestamps: list[float | None]  # seconds in the source video; None for image lists
    source_count: int               # frames (or images) available before sampling


def uniform_indices(count: int, n: int | None) -> np.ndarray:
    """Indices of `n` uniformly spaced elements out of `count`, first and last included.

    Returns (min(n, count),) int64, strictly increasing. `n` None or <= 0 keeps all.
    """
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if n is None or n <= 0 or n >= count:
        return np.arange(count, dtype=np.int64)
    return np.unique(np.round(np.linspace(0, count - 1, n)).astype(np.int64))


def resolve_media(item: BenchItem, entries: Sequence[str], media_root: str | Path | None, what: str = "media") -> list[Path]:
    """`entries` of `item` as paths. With a `media_root`, each must stay inside it (relative, no
    `..`, no symlink leading out: qa4d._io.resolve_inside); one that does not raises MediaError
    naming the item and the entry. Without a root, entries are taken as written."""
    if media_root is None:
        return [Path(m) for m in entries]
    out = []
    for i, m in enumerate(entries):
        try:
            out.append(resolve_inside(media_root, m))
        except ValueError as e:
            raise MediaError(f"item {item.id}: {what}[{i}]: {e}") from None
    return out


def media_paths(item: BenchItem, media_root: str | Path | None) -> list[Path]:
    """The item's media as paths inside `media_root` (MediaError for one outside it)."""
    return resolve_media(item, item.media, media_root, "media")


def prefix_paths(item: BenchItem, media_root: str | Path | None) -> list[Path]:
    """The item's prefix images as paths inside `media_root` (MediaError for one outside it)."""
    return resolve_media(item, item.prefix_images, media_root, "prefix_images")


def missing_media(items: Sequence[BenchItem], media_root: str | Path | None) -> list[str]:
    """One message per missing or out-of-root media file, naming the item."""
    problems = []
    for item in items:
        try:
            paths = prefix_paths(item, media_root) + media_paths(item, media_root)
        except MediaError as e:
            problems.append(str(e))
            continue
        for p in paths:
            if not p.is_file():
                problems.append(f"item {item.id}: {p} does not exist")
    return problems


def load_frames(
    item: BenchItem, media_root: str | Path | None, n_frames: int | None, paths: Sequence[Path] | None = None
) -> Frames:
    """Decode the frames of `item` (RGB PIL images), at most `n_frames` of them.

    `paths`: the item's resolved media paths when the benchmark resolves them its own way
    (`Benchmark.media_paths`); by default `item.media` relative to `media_root`.
    """
    paths = list(paths) if paths is not None else media_paths(item, media_root)
    if not paths:
        return Frames([], [], 0)
    kind = item.media_kind
    if kind == "video" or (len(paths) == 1 and paths[0].suffix.lower() in VIDEO_SUFFIXES):
        if len(paths) != 1:
            raise MediaError(f"item {item.id}: media_kind 'video' expects one video, got {len(paths)} paths")
        start = item.meta.get("time_start")
        end = item.meta.get("time_end")
        return sample_video(
            paths[0], n_frames,
            time_start=None if start is None else float(start),
            time_end=None if end is None else float(end),
        )
    idx = uniform_indices(len(paths), n_frames)
    images = [_read_image(item, paths[i]) for i in idx]
    return Frames(images, [None] * len(images), len(paths))


def load_prefix_images(
    item: BenchItem, media_root: str | Path | None, paths: Sequence[Path] | None = None
) -> list[Image.Image]:
    """The item's prefix images (RGB PIL), all of them, in order.

    `paths`: resolved by the benchmark (`Benchmark.prefix_paths`); by default `item.prefix_images`
    relative to `media_root`.
    """
    paths = list(paths) if paths is not None else prefix_paths(item, media_root)
    return [_read_image(item, p) for p in paths]


def _read_image(item: BenchItem, path: Path) -> Image.Image:
    try:
        with Image.open(path) as im:
            return im.convert("RGB")
    except (OSError, ValueError) as e:
        raise MediaError(f"item {item.id}: cannot read image {path}: {e}") from e


def _import_av():
    try:
        import av  # noqa: PLC0415  (PyAV is only needed for video benchmarks)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise MediaError("decoding videos needs PyAV: pip install av") from e
    return av


def sample_video(
    path: str | Path,
    n_frames: int | None,
    time_start: float | None = None,
    time_end: float | None = None,
) -> Frames:
    """Sample `n_frames` frames uniformly from a video, within [time_start, time_end] seconds.

    Two passes: demuxing packets (no decoding) gives every frame's presentation time cheaply;
    the second pass seeks near the first chosen frame and decodes only up to the last one.
    """
    av = _import_av()
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"video {path} does not exist")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"video {path} has no video stream")
            stream = container.streams.video[0]
            tb = float(stream.time_base) if stream.time_base is not None else None
            pts_all = sorted({p.pts for p in container.demux(stream) if p.pts is not None})
            if not pts_all or tb is None:
                raise MediaError(f"video {path} has no timestamped frames")
            t0 = pts_all[0]  # the stream may not start at 0; windows are relative to its start
            times = [(p - t0) * tb for p in pts_all]
            lo = -np.inf if time_start is None else time_start - 1e-6
            hi = np.inf if time_end is None else time_end + 1e-6
            window = [p for p, t in zip(pts_all, times) if lo <= t <= hi]
            if not window:
                raise MediaError(
                    f"video {path}: no frame in the time window [{time_start}, {time_end}] s "
                    f"(video spans 0..{times[-1]:.3f} s)"
                )
            wanted = [window[i] for i in uniform_indices(len(window), n_frames)]
            wanted_set = set(wanted)
            container.seek(wanted[0], stream=stream, backward=True, any_frame=False)
            got: dict[int, Image.Image] = {}
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                if frame.pts in wanted_set and frame.pts not in got:
                    got[frame.pts] = frame.to_image().convert("RGB")
                if frame.pts >= wanted[-1] and len(got) == len(wanted):
                    break
    except av.error.FFmpegError as e:
        raise MediaError(f"cannot decode video {path}: {e}") from e
    missing = [p for p in wanted if p not in got]
    if missing:
        raise MediaError(f"video {path}: {len(missing)} of {len(wanted)} sampled frames could not be decoded")
    return Frames(
        [got[p] for p in wanted],
        [float((p - t0) * tb) for p in wanted],
        len(window),
    )
