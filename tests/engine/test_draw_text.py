"""Dots named by a letter carry that letter beside them (engine/draw.py), readable at 160 px."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from qa4d.engine.draw import COLOURS, dot_text_size, draw_circles, draw_dot_text

W = H = 160


def _grey() -> np.ndarray:
    return np.full((H, W, 3), 90, np.uint8)


def _changed(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(int) - b.astype(int)).sum(axis=2) > 0


def test_labelled_dot_differs_from_the_plain_dot_only_beside_it():
    dot = {"cx": 60.0, "cy": 80.0, "r": 6.4, "colour": "yellow"}
    plain = draw_circles(_grey(), [dot])
    labelled = draw_circles(_grey(), [{**dot, "text": "A"}])
    diff = _changed(plain, labelled)
    ys, xs = np.nonzero(diff)
    assert diff.sum() > 30  # a letter, not a stray pixel
    # the text is right of the dot's outline, vertically around its centre, never on the dot
    width = max(2, round(W / 80))
    assert xs.min() > dot["cx"] + dot["r"] + width / 2
    assert ys.min() >= dot["cy"] - dot_text_size(W, H) and ys.max() <= dot["cy"] + dot_text_size(W, H)
    # its pixels are the dot's colour (fill) and black (outline)
    px = labelled[diff]
    near = lambda c: (np.abs(px.astype(int) - np.array(c)).sum(axis=1) < 60).sum()  # noqa: E731
    assert near(COLOURS["yellow"]) > 5 and near((0, 0, 0)) > 5


def test_letters_are_distinguishable_at_160px():
    dot = {"cx": 40.0, "cy": 50.0, "r": 6.4, "colour": "red"}
    imgs = {t: draw_circles(_grey(), [{**dot, "text": t}]) for t in "ABCD"}
    for a in "ABCD":
        for b in "ABCD":
            if a < b:
                assert _changed(imgs[a], imgs[b]).sum() > 15, (a, b)
    assert dot_text_size(W, H) >= 11


def test_text_stays_inside_the_image_near_the_right_edge():
    dot = {"cx": 155.0, "cy": 3.0, "r": 6.4, "colour": "cyan"}
    plain = draw_circles(_grey(), [dot])
    labelled = draw_circles(_grey(), [{**dot, "text": "D"}])
    ys, xs = np.nonzero(_changed(plain, labelled))
    assert xs.size > 30 and xs.max() < dot["cx"] - dot["r"]  # moved to the left of the dot
    im = Image.fromarray(_grey())
    box = draw_dot_text(ImageDraw.Draw(im), 155.0, 3.0, 7.4, COLOURS["cyan"], "D", im.size)
    assert 0 <= box[0] < box[2] <= W and 0 <= box[1] < box[3] <= H


def test_dot_without_text_is_unchanged_outline():
    img = _grey()
    out = draw_circles(img, [{"cx": 80, "cy": 80, "r": 10, "colour": "green", "text": ""}])
    ref = draw_circles(img, [{"cx": 80, "cy": 80, "r": 10, "colour": "green"}])
    assert np.array_equal(out, ref)
