"""Object captions: "the {size} {colour} {category}", unique within a scene.

Colours (name -> RGB used to paint the object) and size words (by the largest side of the
object's box) are data in captions.json. Uniqueness is obtained by re-drawing the colour of an
object whose caption would repeat an earlier one; if every colour is taken (many objects of one
category and size), an ordinal word is added ("the second small red cube").
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

CAPTIONS_FILE = Path(__file__).with_name("captions.json")
_ORDINALS = ("second", "third", "fourth", "fifth", "sixth", "seventh", "eighth")


@lru_cache(maxsize=4)
def load_vocabulary(path: str | None = None) -> dict[str, Any]:
    p = Path(path) if path else CAPTIONS_FILE
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{p}: cannot read caption vocabulary ({e})") from e
    for key in ("colours", "sizes"):
        if not data.get(key):
            raise ValueError(f"{p}: missing or empty field {key!r}")
    return data


class _Captionable(Protocol):
    category: str
    approx_extent: tuple[float, float, float]
    colour: str
    rgba: tuple[float, float, float, float]
    size_word: str
    caption: str


def size_word(extent: Sequence[float], vocab: dict[str, Any] | None = None) -> str:
    """Size word of an object whose box is `extent` (3,) metres, from its largest side."""
    vocab = vocab or load_vocabulary()
    m = float(max(extent))
    for word, upper in vocab["sizes"]:
        if m < float(upper):
            return str(word)
    return str(vocab["sizes"][-1][0])


def caption(size: str, colour: str, category: str) -> str:
    return f"the {size} {colour} {category}"


def assign_captions(objects: Sequence[_Captionable], rng: np.random.Generator, vocab: dict[str, Any] | None = None) -> None:
    """Give each object a colour, rgba, size word and a caption unique within `objects` (in place)."""
    vocab = vocab or load_vocabulary()
    colours = list(vocab["colours"])
    used: set[str] = set()
    for obj in objects:
        size = size_word(obj.approx_extent, vocab)
        # Random order of colours; take the first that keeps the caption unique.
        order = [colours[i] for i in rng.permutation(len(colours))]
        chosen = next((c for c in order if caption(size, c, obj.category) not in used), None)
        if chosen is None:  # 12 colours exhausted for this category and size: count instead
            chosen = order[0]
            cap = next(c for c in (f"the {o} {size} {chosen} {obj.category}" for o in _ORDINALS) if c not in used)
        else:
            cap = caption(size, chosen, obj.category)
        used.add(cap)
        r, g, b = (float(v) for v in vocab["colours"][chosen])
        obj.colour, obj.rgba, obj.size_word, obj.caption = chosen, (r, g, b, 1.0), size, cap
