"""What `--model openai` sends for an item: the chat message with its images (stored JPEG bytes
as they are when nothing would change them, else decoded, upright, RGB, downscaled, JPEG) or its
sampled frames as one H.264 MP4 `video_url` part (module docstring of `qa4d.bench.models.openai`).
"""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from qa4d.bench.media import (
    MediaError,
    clip_times,
    downscale_to_side,
    encode_mp4,
    exif_orientation,
    fits_side,
    read_upright_rgb,
    upright_rgb,
)
from qa4d.bench.models.base import ImageLike, ModelError


def stored_jpeg_sendable(im: Image.Image, data: bytes, max_side: int | None) -> bool:
    """True when the file `data` (opened as `im`, header only) can be sent as it is: a JPEG (not an
    MPO or other variant) in RGB or greyscale, upright (EXIF orientation 1 or none), complete (SOI
    first, EOI last) and no larger than `max_side`. Its decoded pixels are then the RGB pixels the
    decode path starts from (greyscale is expanded to RGB identically by every decoder)."""
    return (im.format == "JPEG" and im.mode in ("RGB", "L") and fits_side(im.size, max_side)
            and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" and exif_orientation(im) == 1)


def image_bytes(image: ImageLike, quality: int = 90, max_side: int | None = None,
                reencode: bool = False) -> tuple[str, bytes]:
    """(MIME type, bytes) of one frame as it is sent (see the module docstring).

    `image`: a path of a stored image (sent as it is when `stored_jpeg_sendable`, unless
    `reencode`) or a PIL image (always encoded). MediaError when a stored file cannot be read.
    """
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                if not reencode and stored_jpeg_sendable(im, data, max_side):
                    return "image/jpeg", data
                rgb = upright_rgb(im)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise MediaError(f"cannot read image {path}: {e}") from e
    else:
        rgb = image.convert("RGB") if image.mode != "RGB" else image
    buf = io.BytesIO()
    downscale_to_side(rgb, max_side).save(buf, format="JPEG", quality=quality)
    return "image/jpeg", buf.getvalue()


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def encode_image(image: ImageLike, quality: int = 90, max_side: int | None = None, reencode: bool = False) -> str:
    """A frame as a `data:image/jpeg;base64,...` URL (`image_bytes`)."""
    return data_url(*image_bytes(image, quality, max_side, reencode))


def video_bytes(frames: Sequence[ImageLike], times: Sequence[float | None], fallback_fps: float = 1.0,
                max_side: int | None = None, crf: int = 18) -> bytes:
    """The frames of one item as an H.264 MP4 (`qa4d.bench.media.encode_mp4`), each at its time
    (seconds from the first; `fallback_fps` apart when any time is unknown), upright RGB,
    downscaled to `max_side`. ModelError when the frames differ in size."""
    pics = []
    for f in frames:
        if isinstance(f, (str, Path)):
            try:
                f = read_upright_rgb(Path(f))
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                raise MediaError(f"cannot read image {f}: {e}") from e
        pics.append(downscale_to_side(f.convert("RGB") if f.mode != "RGB" else f, max_side))
    sizes = sorted({p.size for p in pics})
    if len(sizes) > 1:
        raise ModelError(f"--video-mode video: the frames differ in size ({', '.join(f'{w}x{h}' for w, h in sizes)}); "
                         "one clip needs one size (use --video-mode images)")
    return encode_mp4(pics, clip_times(times, fallback_fps), crf=crf, fallback_fps=fallback_fps)


def build_messages(prompt: str, images: Sequence[ImageLike], jpeg_quality: int = 90, *,
                   max_side: int | None = None, reencode: bool = False, video: bool = False,
                   fallback_fps: float = 1.0, crf: int = 18) -> list[dict]:
    """One user message: image parts, then the prompt text. With `video`, the sampled frames (after
    `images.n_prefix` prefix images when `images` is a `Shown` list) go as one `video_url` part at
    `images.times`."""
    n_prefix = int(getattr(images, "n_prefix", 0)) if video else len(images)
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": encode_image(im, jpeg_quality, max_side, reencode)}}
        for im in images[:n_prefix]
    ]
    frames = list(images[n_prefix:])
    if frames:
        times = getattr(images, "times", None) or [None] * len(frames)
        mp4 = video_bytes(frames, times, fallback_fps, max_side, crf)
        content.append({"type": "video_url", "video_url": {"url": data_url("video/mp4", mp4)}})
    content.append({"type": "text", "text": prompt})
    return [{"role": "user", "content": content}]
