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


# -- end to end: `qa4d generate` draws each option dot's letter beside it ------------------------

def test_generated_depth_comparison_dots_carry_their_option_letters(tmp_path):
    import subprocess
    import sys

    from qa4d.dataset import read_samples
    from qa4d.engine.draw import encode_jpeg
    from qa4d.geometry import intrinsics_from_fov
    from qa4d.scene.format import SceneMeta, load_scene, write_scene

    S, T = 160, 4
    for sid in ("walls0", "walls1"):  # two walls: left half at 2 m, right half at 3 m
        depth = np.full((T, S, S), 3.0, np.float32)
        depth[:, :, : S // 2] = 2.0
        img = np.zeros((T, S, S, 3), np.uint8)
        img[:, :, : S // 2] = (200, 60, 60)
        img[:, :, S // 2:] = (60, 60, 200)
        meta = SceneMeta(scene_id=sid, source="sim", fps=5.0, width=S, height=S, frames=[], objects=[])
        arrays = {"intrinsics": np.tile(intrinsics_from_fov(S, S, 60.0), (T, 1, 1)), "cam_to_world": np.tile(np.eye(4), (T, 1, 1)),
                  "depth": depth, "instance_mask": np.zeros((T, S, S), np.int32)}
        write_scene(tmp_path / "scenes" / sid, meta, arrays, frames=list(img), image_format="png")
    ds = tmp_path / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(tmp_path / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "depth_comparison_dot", "--bench-fraction", "0.5", "--seed", "2"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    recs = [rec for s in ("train", "bench") for rec in read_samples(ds / s / "samples.jsonl")]
    assert recs
    for rec in recs:
        refs = rec["meta"]["refs"]
        # each dot's letter is the option that names its colour
        assert sorted(ref["text"] for ref in refs) == sorted(rec["options"])
        for ref in refs:
            assert rec["options"][ref["text"]] == f"the {ref['colour']} circle"
        scene = load_scene(tmp_path / "scenes" / rec["scene_id"])
        plain = np.asarray(Image.open(ds / rec["media"][0]).convert("RGB")).astype(int)
        frame = scene.frame(rec["frame_indices"][0])
        unlabelled = draw_circles(frame, [{k: v for k, v in ref.items() if k != "text"} for ref in refs])
        import io

        ref_img = np.asarray(Image.open(io.BytesIO(encode_jpeg(unlabelled))).convert("RGB")).astype(int)
        diff = np.abs(plain - ref_img).sum(axis=2)
        for ref in refs:  # strong differences beside every dot (its letter), within a text height
            cx, cy, rr = ref["cx"], ref["cy"], ref["r"]
            y0, y1 = int(max(0, cy - 10)), int(min(S, cy + 10))
            right = diff[y0:y1, int(min(S, cx + rr + 2)): int(min(S, cx + rr + 20))]
            left = diff[y0:y1, int(max(0, cx - rr - 20)): int(max(0, cx - rr - 2))]
            assert max((right > 150).sum(), (left > 150).sum()) > 15, (rec["id"], ref)
        scene.close()
