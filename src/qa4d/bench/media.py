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

Stored images are shown upright: an EXIF orientation tag is applied when decoding
(`ImageOps.exif_transpose`), as an image viewer does. Models that send stored files as they are
(`Model.accepts_paths`, e.g. `openai`) get the sampled paths instead of decoded images
(`load_frames(..., as_paths=True)`) and decide per file whether it can go unchanged.

The frames of one item reach the model as a `Shown` list (prefix images, then the sampled frames)
that also says how many prefix images lead it and when each sampled frame was taken (`times`):
the video's timestamps, else the record's `meta["timestamps"]` (one per image), else
`index / meta["fps"]`, else None. `encode_mp4` turns such frames into one H.264 clip.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:  # PIL is imported where images are read: scoring needs none (a tenth of its start-up)
    from PIL import Image

from qa4d._io import resolve_inside
from qa4d.bench.types import BenchItem

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg")


class MediaError(RuntimeError):
    """An item's media cannot be read (missing file, undecodable video, empty window)."""


@dataclass
class Frames:
    """Sampled frames of one item, with where they came from."""

    images: list  # RGB PIL images (paths of the stored images for image lists with as_paths)
    timestamps: list[float | None]  # seconds in the source video, or from the record (None: unknown)
    source_count: int               # frames (or images) available before sampling


class Shown(list):
    """What one item shows the model, in order: `n_prefix` prefix images (e.g. a Set-of-Marks
    image), then the sampled frames; `times[k]` is when sampled frame k was taken (seconds, None
    when unknown). A plain list to models that need no more."""

    def __init__(self, images: Sequence = (), n_prefix: int = 0, times: Sequence[float | None] | None = None):
        super().__init__(images)
        self.n_prefix = int(n_prefix)
        n = len(self) - self.n_prefix
        self.times: list[float | None] = list(times) if times is not None else [None] * n
        if len(self.times) != n:
            raise ValueError(f"{n} sampled frames but {len(self.times)} times")


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
            out.append(_resolve_entry(media_root, m))
        except ValueError as e:
            raise MediaError(f"item {item.id}: {what}[{i}]: {e}") from None
    return out


@functools.lru_cache(maxsize=4096)
def _directory_inside(root: str, cwd: str, directory: str) -> Path:
    """resolve_inside(root, directory), remembered: the frames of a benchmark share few directories.
    (`cwd` is part of the key because a relative root resolves against it.) Failures are not cached."""
    return resolve_inside(root, directory)


def _resolve_entry(root: str | Path, rel: object) -> Path:
    """resolve_inside(root, rel), the same result and the same errors, with the check of rel's
    directory remembered: a plain file (not a symlink) in a directory that resolves inside the root
    is inside it too, so each further entry costs one lstat instead of resolving the whole path."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        return resolve_inside(root, rel)
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts or len(p.parts) < 2:
        return resolve_inside(root, rel)
    directory = _directory_inside(str(root), os.getcwd(), str(p.parent))
    full = directory / p.name
    return resolve_inside(root, rel) if full.is_symlink() else full


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
    item: BenchItem, media_root: str | Path | None, n_frames: int | None, paths: Sequence[Path] | None = None,
    as_paths: bool = False,
) -> Frames:
    """Decode the frames of `item` (RGB PIL images, upright), at most `n_frames` of them.

    `paths`: the item's resolved media paths when the benchmark resolves them its own way
    (`Benchmark.media_paths`); by default `item.media` relative to `media_root`.
    `as_paths`: for an image list, return the sampled paths undecoded (a video is always decoded).
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
    images = [paths[i] if as_paths else _read_image(item, paths[i]) for i in idx]
    return Frames(images, image_times(item, idx, len(paths)), len(paths))


def image_times(item: BenchItem, idx: Sequence[int], count: int) -> list[float | None]:
    """When the images `idx` (of `count`) of an image-list item were taken, in seconds: the record's
    `meta["timestamps"]` when it has one number per image, else `index / meta["fps"]`, else None."""
    ts = item.meta.get("timestamps")
    if isinstance(ts, list) and len(ts) == count and all(isinstance(t, (int, float)) for t in ts):
        return [float(ts[i]) for i in idx]
    fps = item.meta.get("fps")
    if isinstance(fps, (int, float)) and not isinstance(fps, bool) and fps > 0:
        return [float(i) / float(fps) for i in idx]
    return [None] * len(idx)


def load_prefix_images(
    item: BenchItem, media_root: str | Path | None, paths: Sequence[Path] | None = None, as_paths: bool = False
) -> list:
    """The item's prefix images (RGB PIL, upright; their paths with `as_paths`), all, in order.

    `paths`: resolved by the benchmark (`Benchmark.prefix_paths`); by default `item.prefix_images`
    relative to `media_root`.
    """
    paths = list(paths) if paths is not None else prefix_paths(item, media_root)
    return list(paths) if as_paths else [_read_image(item, p) for p in paths]


def _read_image(item: BenchItem, path: Path) -> Image.Image:
    try:
        return read_upright_rgb(path)
    except (OSError, ValueError) as e:
        raise MediaError(f"item {item.id}: cannot read image {path}: {e}") from e


def exif_orientation(im: Image.Image) -> int | None:
    """The EXIF orientation tag (1-8) of an opened image: 1 (upright) when absent, None when the
    EXIF block cannot be read or holds another value."""
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 (a broken EXIF block raises anything; PIL decodes the pixels anyway)
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def upright_rgb(im: Image.Image) -> Image.Image:
    """An opened image decoded, turned upright (EXIF orientation applied) and converted to RGB."""
    if exif_orientation(im) not in (1, None):
        from PIL import ImageOps  # noqa: PLC0415

        im = ImageOps.exif_transpose(im)
    return im.convert("RGB")  # a new image even when already RGB (the file may close)


def read_upright_rgb(source: str | Path | bytes) -> Image.Image:
    """Decode an image file (a path, or its bytes) as RGB, upright."""
    from PIL import Image  # noqa: PLC0415

    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        return upright_rgb(im)


def fits_side(size: tuple[int, int], max_side: int | None) -> bool:
    """True when an image of `size` (width, height) needs no downscaling to `max_side` (None: any)."""
    return max_side is None or max(size) <= max_side


def downscale_to_side(im: Image.Image, max_side: int | None) -> Image.Image:
    """`im` with its longer side brought down to `max_side` pixels (aspect ratio kept, each side
    rounded, at least 1; Lanczos); unchanged when it already fits."""
    if fits_side(im.size, max_side):
        return im
    w, h = im.size
    scale = max_side / max(w, h)
    from PIL import Image  # noqa: PLC0415

    return im.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)


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


def clip_times(times: Sequence[float | None], fallback_fps: float) -> list[float]:
    """Presentation times (seconds, first frame at 0) of a clip made of frames taken at `times`.

    Known times keep their spacing; when any is unknown (None) or they do not increase, the frames
    are spaced 1 / `fallback_fps` apart. Returns (len(times),) increasing floats.
    """
    if fallback_fps <= 0:
        raise ValueError(f"fallback frame rate must be positive, got {fallback_fps}")
    known = [t for t in times if t is not None]
    if len(known) == len(times) and all(b > a for a, b in zip(known, known[1:])):
        return [float(t) - float(known[0]) for t in known] if known else []
    return [i / float(fallback_fps) for i in range(len(times))]


def clip_fps(times: Sequence[float], fallback_fps: float) -> Fraction:
    """The nominal frame rate of a clip with presentation `times`: frames per second over its span
    ((N - 1) / span), `fallback_fps` for a single frame; a fraction with denominator <= 1001."""
    if len(times) > 1 and times[-1] > times[0]:
        rate = (len(times) - 1) / (times[-1] - times[0])
    else:
        rate = fallback_fps
    return Fraction(rate).limit_denominator(1001)


def encode_mp4(images: Sequence[Image.Image], times: Sequence[float], crf: int = 18,
               fallback_fps: float = 1.0) -> bytes:
    """Frames as one H.264 MP4 (bytes): frame k at presentation time `times[k]` seconds
    (millisecond resolution; the stream's nominal rate from `clip_fps`, `fallback_fps` for one frame).

    yuv420p, the format every decoder takes, when width and height are even; yuv444p otherwise
    (4:2:0 needs even sizes, and the frames are sent at their own size). One encoder thread, no
    macroblock tree and bit-exact muxing, so the same frames give the same bytes. All frames must
    share one size.
    """
    av = _import_av()
    if not images:
        raise ValueError("a clip needs at least one frame")
    if len(times) != len(images):
        raise ValueError(f"{len(images)} frames but {len(times)} times")
    if "libx264" not in av.codecs_available:
        raise MediaError("--video-mode video needs PyAV with the libx264 encoder (PyAV's wheels from PyPI have it); "
                         "this PyAV has none: reinstall it with `pip install --force-reinstall av`")
    width, height = images[0].size
    ms = Fraction(1, 1000)
    pts = [round(float(t) * 1000) for t in times]
    if any(b <= a for a, b in zip(pts, pts[1:])):
        raise ValueError(f"frame times must increase by at least 1 ms: {list(times)}")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4", container_options={"fflags": "+bitexact"}) as container:
        stream = container.add_stream("libx264", rate=clip_fps(times, fallback_fps),
                                      # no macroblock tree: with it x264's lookahead gave different bytes for
                                      # the same frames now and then (e.g. 96x96 frames; asm=0 did not)
                                      options={"crf": str(int(crf)), "preset": "medium", "x264-params": "mbtree=0"})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        stream.codec_context.time_base = ms
        stream.codec_context.thread_count = 1
        for im, p in zip(images, pts):
            if im.size != (width, height):
                raise ValueError(f"frames differ in size: {im.size} vs {(width, height)} of the first")
            frame = av.VideoFrame.from_image(im.convert("RGB") if im.mode != "RGB" else im)
            frame.pts, frame.time_base = p, ms
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
