"""R4D-Bench's own layout (4D-RGPT supplementary, A2), read back by `qa4d eval --benchmark r4d-bench`.

Writes, per split, `test.json` (bench split; other splits `<split>.json`): a JSON list of

    {"id": ..., "benchmark": ..., "task": ..., "question": ..., "options": ["...", ...],
     "answer": "<the correct option's text>", "video": "videos/<id>.mp4",
     "som_image": "som/<id>.png" or null}

with every path relative to OUT (evaluate with `--media-root OUT`). Only multiple-choice records
fit the format; the export counts the others and leaves them out. The video is the record's frames encoded as an
MPEG-4 (Part 2) MP4 by PyAV, each frame at its record timestamp minus the first one's (pts in
milliseconds): a video starts at 0 s, as every reader (qa4d's `bench.media.sample_video` too)
counts its times. A question that states times (`meta.time_window`, the sti / r4d families: "At
1.25 s (frame 4)", in the record's own clock, seconds of the scene) is re-based the same way:
every stated time of `time_window` is rewritten as seconds since the first frame of the video,
so a stated time is the time of the video frame it names. Odd frame sizes get one black row/column
(4:2:0 chroma needs even sizes). The colour conversion is done here (`rgb_to_yuv420p`) and the
encoder runs single-threaded, so the same dataset gives the same bytes. A record whose timestamps do not increase is not a video: left out.

Set-of-Marks image: a record that has one names it in `meta.som_image` (one of its `media`
paths: the marked first frame, sent before the frames); it is copied to `som/` and left out of
the video. A record without one exports `som_image: null` (the loader then sends the frames only).
`benchmark` is `meta.source_benchmark` when the record has it (the r4d family: "VLM4D" or
"STI-Bench"), else "qa4d". `task` is the record's task; the loader maps the nine R4D categories
from their names, abbreviations or snake_case task names (r4d_bench.json).
"""

from __future__ import annotations

import fractions
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from PIL import Image

from qa4d._io import atomic_file, copy_file_atomic
from qa4d.export.formats import ExportContext, ExportError, Exporter, register_exporter, write_json_list
from qa4d.export.records import sorted_options

VIDEO_DIR, SOM_DIR = "videos", "som"
TIME_BASE = fractions.Fraction(1, 1000)
CODEC = "mpeg4"        # FFmpeg's own MPEG-4 Part 2 encoder: same input, same bytes (libx264 was not, run to run)
BIT_RATE = 8_000_000
_PRIVATE = ("_frames", "_timestamps", "_som_src")


_TIME = re.compile(r"(?<![0-9.])([0-9]+\.[0-9]{2}) s\b")


def rebase_times(question: str, time_window: Sequence[float] | None, start: float, rid: str = "") -> str:
    """`question` with each stated time of `time_window` ("1.25 s", 2 decimals as the sti / r4d
    families write them) replaced by that time minus `start` (the first video frame's record
    time); other text unchanged. A stated window time missing from the question is an error."""
    if not time_window:
        return question
    new = {f"{float(t):.2f}": f"{float(t) - float(start):.2f}" for t in time_window}
    found = set()

    def sub(m: re.Match) -> str:
        if m.group(1) not in new:
            return m.group(0)
        found.add(m.group(1))
        return f"{new[m.group(1)]} s"

    out = _TIME.sub(sub, question)
    missing = sorted(set(new) - found)
    if missing:
        raise ExportError(f"record {rid!r}: meta.time_window {list(time_window)} but the question does not state "
                          f"{', '.join(m + ' s' for m in missing)}")
    return out


def safe_name(record_id: str) -> str:
    """A file name for a record id (`family/scene/task/seg-n` -> `family__scene__task__seg-n`)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", record_id.replace("/", "__"))


def _rgb_even(path: Path) -> np.ndarray:
    """(H', W', 3) uint8 RGB of an image, padded with black to even H' and W'."""
    with Image.open(path) as im:
        a = np.asarray(im.convert("RGB"))
    h, w = a.shape[:2]
    return np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)))


def rgb_to_yuv420p(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB, H and W even -> (3H/2, W) uint8 planar YUV 4:2:0 (BT.601, limited range:
    Y in 16..235, U/V in 16..240; chroma is the mean of each 2x2 block). Done here rather than by
    libswscale so that the encoder's input, and so the file's bytes, depend on the images alone."""
    x = rgb.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    u = 128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0
    v = 128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0
    h, w = y.shape

    def sub(c: np.ndarray) -> np.ndarray:
        return c.reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))

    planes = np.concatenate([y.ravel(), sub(u).ravel(), sub(v).ravel()]).reshape(3 * h // 2, w)
    return np.clip(np.rint(planes), 0, 255).astype(np.uint8)


def encode_video(frames: Sequence[Path], timestamps: Sequence[float], out: Path) -> None:
    """Encode image files as an MP4 (MPEG-4 Part 2) with frame i at `timestamps[i]` seconds (ms
    resolution). Same frames, same bytes."""
    import av  # noqa: PLC0415  (only this format needs PyAV)

    arrays = [_rgb_even(p) for p in frames]
    if len({a.shape for a in arrays}) != 1:
        raise ExportError(f"frames of different sizes {sorted({a.shape[:2] for a in arrays})}")
    h, w = arrays[0].shape[:2]
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as fh, av.open(fh, "w", format="mp4") as container:
        stream = container.add_stream(CODEC, rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.codec_context.time_base = TIME_BASE
        stream.codec_context.thread_count = 1
        stream.bit_rate = BIT_RATE
        for a, t in zip(arrays, timestamps):
            frame = av.VideoFrame.from_ndarray(rgb_to_yuv420p(a), format="yuv420p")
            frame.pts, frame.time_base = round(float(t) * 1000), TIME_BASE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@register_exporter("r4d-bench")
class R4DBenchExporter(Exporter):
    answer_formats = ("mc",)
    videos_only = True  # R4D-Bench items are clips; MultiSPA's image sets have no place in it

    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        rid = record["id"]
        if record.get("answer_format") != "mc":
            raise ExportError(f"record {rid!r}: answer_format {record.get('answer_format')!r}: "
                              "R4D-Bench holds multiple-choice questions only")
        meta = record.get("meta") or {}
        media = list(record["media"])
        som = meta.get("som_image")
        if som is not None and som not in media:
            raise ExportError(f"record {rid!r}: meta.som_image {som!r} is not one of its media")
        keep = [i for i, m in enumerate(media) if m != som]
        ts = [float(record["timestamps"][i]) for i in keep]
        if len(ts) < 1 or any(b <= a for a, b in zip(ts, ts[1:])):
            raise ExportError(f"record {rid!r}: timestamps {ts} do not increase: the frames are not a video")
        options = sorted_options(record)
        answer = dict(options).get(record["answer"])
        if answer is None:
            raise ExportError(f"record {rid!r}: answer {record['answer']!r} is not an option letter")
        name = safe_name(rid)
        som_src = images[media.index(som)] if som is not None else None
        return {
            "id": rid,
            "benchmark": str(meta.get("source_benchmark") or "qa4d"),
            "task": record["task"],
            "question": rebase_times(record["question"], meta.get("time_window"), ts[0], rid),
            "options": [text for _, text in options],
            "answer": answer,
            "video": f"{VIDEO_DIR}/{name}.mp4",
            "som_image": None if som_src is None else f"{SOM_DIR}/{name}{Path(som_src).suffix}",
            "_frames": [images[i] for i in keep],
            "_timestamps": [t - ts[0] for t in ts],
            "_som_src": som_src,
        }

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        return list(row["_frames"]) + ([row["_som_src"]] if row["_som_src"] else [])

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        return {}  # no image placeholders: the frames are in the video, the marks in som_image

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        out: list[dict[str, Any]] = []
        for row in rows:
            src = [Path(p) if Path(p).is_absolute() else ctx.out_dir / p for p in row["_frames"]]
            try:
                encode_video(src, row["_timestamps"], ctx.out_dir / row["video"])
            except ExportError as e:
                raise ExportError(f"record {row['id']!r}: {e}") from None
            if row["_som_src"]:
                p = Path(row["_som_src"])
                copy_file_atomic(p if p.is_absolute() else ctx.out_dir / p, ctx.out_dir / row["som_image"])
            out.append({k: v for k, v in row.items() if k not in _PRIVATE})
        path = ctx.out_dir / ("test.json" if split == "bench" else f"{split}.json")
        write_json_list(path, out)
        return [path]
