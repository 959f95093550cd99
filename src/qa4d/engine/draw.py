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
    its centre (`draw_mark`). A mapping with a `text` (a dot that questions or options name by
    that text, e.g. MultiSPA's "A"-"D") keeps its outline and gets the text beside it
    (`draw_dot_text`). Returns (H, W, 3) uint8.
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
        if c.get("text"):
            draw_dot_text(d, cx, cy, r + width / 2, COLOURS[c["colour"]], str(c["text"]), im.size)
    return np.asarray(im)


def dot_text_size(width: int, height: int) -> int:
    """Font size (pixels) of a dot's text on a width x height image: 1/12 of the shorter side, at
    least 11 px, so a letter stays readable on a 160 px image (13 px there) and after resizing."""
    return max(11, round(min(width, height) / 12))


def draw_dot_text(d: "ImageDraw.ImageDraw", cx: float, cy: float, r: float, fill: tuple[int, int, int],
                  text: str, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """`text` beside a dot of outer radius r centred at (cx, cy): to its right, or to its left when
    it would leave the image; vertically centred on the dot, clamped to the image. Drawn in the dot's
    colour with a black outline (readable on light and dark backgrounds). Returns the text's box
    (left, top, right, bottom) in pixels."""
    w, h = size
    font = ImageFont.load_default(size=dot_text_size(w, h))
    stroke = max(1, round(font.size / 7))
    gap = max(2.0, r / 3)
    left, top, right, bottom = d.textbbox((0, 0), text, font=font, anchor="lm", stroke_width=stroke)
    tw, th = right - left, bottom - top
    x = cx + r + gap if cx + r + gap + tw <= w else cx - r - gap - tw
    x = min(max(0.0, x), max(0.0, w - tw))
    y = min(max(cy, th / 2), h - th / 2)
    d.text((x - left, y), text, fill=fill, font=font, anchor="lm", stroke_width=stroke, stroke_fill=(0, 0, 0))
    return (x, y - th / 2, x + tw, y + th / 2)


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
