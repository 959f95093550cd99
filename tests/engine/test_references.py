import numpy as np
import pytest

from qa4d.engine.draw import COLOURS, draw_circles, encode_jpeg
from qa4d.engine.references import bare_caption, caption_unique, object_reference, phrase, point_reference
from qa4d.scene.format import load_scene
from tests.engine import toy


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp("refs")
    spec = toy.ToyScene("refs", [
        toy.ToyObject("red", (-1.0, 0.0, 0.35)),
        toy.ToyObject("blue", (1.0, 0.0, 0.35)),
        toy.ToyObject("blue", (0.0, 1.5, 0.35)),   # same caption as the second: not unique
    ], frames=6, size=64)
    return load_scene(toy.build(spec, root))


def test_bare_caption_strips_article():
    assert bare_caption("A red cube") == "red cube"
    assert bare_caption("the big box") == "big box"
    assert bare_caption("anvil") == "anvil"


def test_caption_unique(scene):
    assert caption_unique(scene, 1)
    assert not caption_unique(scene, 2) and not caption_unique(scene, 3)


@pytest.mark.parametrize("mode", ["coord", "prompt"])
def test_pixel_references_point_at_the_object_in_their_frame(scene, mode):
    media = [0, 2, 5]
    for oid in (1, 2, 3):
        ref = object_reference(scene, oid, media, [1, 2], {mode: 1.0}, np.random.default_rng(oid), [])
        assert ref["mode"] == mode and ref["media"] in (1, 2)
        t = media[ref["media"]]
        mask = scene.instance_mask[t]
        x, y = ref["x"] * scene.meta.width, ref["y"] * scene.meta.height
        if mode == "coord":
            assert mask[int(y), int(x)] == oid  # the named pixel lies on the object
        else:
            rows, cols = np.nonzero(mask == oid)
            d = np.hypot(cols + 0.5 - ref["cx"], rows + 0.5 - ref["cy"])
            assert d.max() <= ref["r"]  # the circle encloses the whole visible object


def test_caption_mode_only_for_unique_captions(scene):
    rng = np.random.default_rng(0)
    assert object_reference(scene, 2, [0], [0], {"caption": 1.0}, rng, []) is None
    ref = object_reference(scene, 1, [0], [0], {"caption": 1.0}, rng, [])
    assert ref["mode"] == "caption"
    assert phrase(ref, scene.meta, rng) == "the red ball"


def test_invisible_object_gets_no_pixel_reference(scene):
    # no allowed frame -> no coord / prompt reference possible
    assert object_reference(scene, 1, [0, 1], [], {"coord": 1.0, "prompt": 1.0}, np.random.default_rng(0), []) is None


def test_phrases_name_frame_and_coordinates(scene):
    rng = np.random.default_rng(0)
    ref = object_reference(scene, 2, [0, 3], [1], {"coord": 1.0}, rng, [])
    text = phrase(ref, scene.meta, rng)
    assert "frame 2" in text and f"{ref['x']:.3f}" in text and f"{ref['y']:.3f}" in text
    px = phrase(ref, scene.meta, rng, coord_style="pixels")
    assert f"({int(round(ref['px']))}, {int(round(ref['py']))})" in px
    bare = phrase(ref, scene.meta, rng, name_frame=False)
    assert "frame" not in bare


def test_prompt_colours_differ_within_a_sample(scene):
    used: list[str] = []
    rng = np.random.default_rng(0)
    a = object_reference(scene, 2, [0], [0], {"prompt": 1.0}, rng, used)
    b = object_reference(scene, 3, [0], [0], {"prompt": 1.0}, rng, used)
    assert a["colour"] != b["colour"]
    text = phrase(b, scene.meta, rng)
    assert b["colour"] in text and "frame 1" in text


def test_point_reference_prompt_has_circle():
    ref = point_reference((32.0, 16.0), 2, "prompt", 64, 32, [])
    assert ref["x"] == 0.5 and ref["y"] == 0.5 and ref["r"] > 0 and ref["colour"] == "red"


def test_draw_circle_outline_only():
    img = np.zeros((64, 64, 3), np.uint8)
    out = draw_circles(img, [{"cx": 32, "cy": 32, "r": 20, "colour": "green"}])
    assert (out[32, 32] == 0).all()                       # centre untouched
    assert (out[32, 12:14] == COLOURS["green"]).all(axis=-1).any()  # on the outline
    assert (img == 0).all()                               # input not modified
    assert encode_jpeg(out) == encode_jpeg(out)            # deterministic bytes


def test_min_mask_pixels_decides_where_an_object_can_be_pointed_at(scene):
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.kinds.base import SceneContext
    from qa4d.engine.families.fourdpqa.labels import load_thresholds

    n = int(np.count_nonzero(scene.instance_mask[0] == 1))  # pixels of object 1 in frame 0
    assert n > 0
    modes = {"coord": 1.0, "prompt": 1.0}
    for need, seen in ((n, True), (n + 1, False)):
        th = load_thresholds(scene.meta.source, overrides={"min_mask_pixels": need})
        ctx = SceneContext(scene=scene, config=GenerateConfig(scenes="s", out="o"), thresholds=th)
        assert ctx.min_mask_pixels == need and ctx.seen_at(1, 0) is seen
        ref = object_reference(scene, 1, [0], [0], modes, np.random.default_rng(0), [], min_pixels=need)
        assert (ref is not None) is seen
