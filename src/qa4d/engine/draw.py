"""Visual prompts drawn on frame images with PIL: circles around objects or query points."""

from __future__ import annotations

import io
from typing import Iterable, Mapping

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# Named colours of visual prompts, in the order they are handed out within one image.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 25, 35),
    "green": (20, 200, 60),
    "blue": (30, 90, 255),
    "yellow": (255, 225, 25),
    "magenta": (240, 50, 230),
    "cyan": (40, 220, 230),
}
COLOUR_NAMES = tuple(COLOURS)


def draw_circles(image: np.ndarray, circles: Iterable[Mapping]) -> np.ndarray:
    """Draw circle outlines on a copy of an image.

    image: (H, W, 3) uint8. circles: mappings with cx, cy, r in pixels and `colour` (a COLOURS
    name). The line width scales with the image (1/80 of its shorter side, at least 2 px) so the
    prompt stays visible after the model's resizing. A mapping with a `label` (Set-of-Marks) is
    drawn as a mark instead: a disc of that colour, radius r, filled, with the label in white at
    its centre (`draw_mark`). Returns (H, W, 3) uint8.
    """
    im = Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB")
    d = ImageDraw.Draw(im)
    width = max(2, round(min(im.size) / 80))
    for c in circles:
        if c.get("label") is not None:
            draw_mark(d, float(c["cx"]), float(c["cy"]), float(c["r"]), COLOURS[c["colour"]], str(c["label"]))
            continue
        cx, cy, r = float(c["cx"]), float(c["cy"]), max(float(c["r"]), 2.0 * width)
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=COLOURS[c["colour"]], width=width)
    return np.asarray(im)


def mark_radius(width: int, height: int) -> float:
    """Radius (pixels) of a Set-of-Marks mark on a width x height image: 1/16 of the shorter side,
    at least 6 px, so a one- or two-digit number fits inside."""
    return max(6.0, min(width, height) / 16.0)


def draw_mark(d: "ImageDraw.ImageDraw", cx: float, cy: float, r: float, fill: tuple[int, int, int], label: str) -> None:
    """A numbered mark: a filled disc of colour `fill` centred at (cx, cy) and `label` in white,
    centred on it (PIL's built-in font, sized to the disc)."""
    d.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    font = ImageFont.load_default(size=max(6, round(1.3 * r)))
    d.text((cx, cy), label, fill=(255, 255, 255), font=font, anchor="mm")


def encode_jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an (H, W, 3) uint8 image. Deterministic for identical input (no EXIF, no
    timestamps; libjpeg output depends only on pixels and settings)."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="JPEG", quality=int(quality), optimize=False)
    return buf.getvalue()
