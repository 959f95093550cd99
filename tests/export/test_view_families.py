"""The gallery shows every family, checked in headless chromium over a real HTTP server: image sets
named Image-1, Image-2 with their drawn dots and coordinate points, r4d's Set-of-Marks prefix image
with its regions and the <obj_k> legend, stated time windows, timebench's timing, numeric answers
with units; every image loads (naturalWidth > 0)."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from qa4d.export.view import write_gallery
from tests.export import families_data as fd
from tests.export.test_view import chromium, run_chromium, serve  # noqa: F401 (fixtures)

FAMILIES = ("4dpqa", "multispa", "vlm4d", "sti", "r4d", "timebench")


class Elements(HTMLParser):
    """Per sample card: every element inside it as (tag, attrs, text of its subtree)."""

    VOID = {"img", "br", "hr", "input", "meta", "link"}

    def __init__(self) -> None:
        super().__init__()
        self.cards: dict[str, list[dict[str, Any]]] = {}
        self._stack: list[dict[str, Any]] = []
        self._card: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "article" and "sample" in a.get("class", "").split():
            self._card = a["id"][2:]
            self.cards[self._card] = [{"tag": tag, "a": a, "text": ""}]
            self._stack = [self.cards[self._card][0]]
            return
        if self._card is None:
            return
        e = {"tag": tag, "a": a, "text": ""}
        self.cards[self._card].append(e)
        if tag not in self.VOID:
            self._stack.append(e)

    def handle_endtag(self, tag: str) -> None:
        if self._card is None or tag in self.VOID:
            return
        self._stack.pop()
        if not self._stack:
            self._card = None

    def handle_data(self, data: str) -> None:
        for e in self._stack:
            e["text"] += data


def find(elems: list[dict[str, Any]], tag: str, cls: str | None = None) -> list[dict[str, Any]]:
    return [e for e in elems if e["tag"] == tag and (cls is None or cls in e["a"].get("class", "").split())]


@pytest.fixture()
def fam_gallery(tmp_path: Path):
    root = tmp_path / "fam"
    records = fd.build_family_dataset(root)
    index, n, problems = write_gallery(root, split="all", limit=0)
    assert problems == []
    return root, records


@pytest.mark.browser
def test_every_family_renders_with_its_media_roles(fam_gallery, chromium, serve):  # noqa: F811
    root, records = fam_gallery
    allrecs = records["train"] + records["bench"]
    url = serve(root) + "/gallery/index.html"
    p = Elements()
    p.feed(run_chromium(chromium, "--virtual-time-budget=10000", "--dump-dom", url))
    assert sorted(p.cards) == sorted(r["id"] for r in allrecs)
    by_id = {r["id"]: r for r in allrecs}
    seen = set()
    for rid, elems in p.cards.items():
        rec = by_id[rid]
        seen.add(rec["family"])
        art = elems[0]["a"]
        assert (art["data-family"], art["data-task"]) == (rec["family"], f"{rec['family']}/{rec['task']}")
        imgs = find(elems, "img")
        assert [e["a"]["src"] for e in imgs] == ["../" + m for m in rec["media"]]
        # every image loaded in the browser: the page records naturalWidth on load
        assert [int(e["a"].get("data-natural-width", 0)) for e in imgs] == [fd.W] * len(rec["media"]), rid
        caps = [e["text"] for e in find(elems, "figcaption")]
        figs = find(elems, "figure")
        meta = rec["meta"]
        if meta.get("media_kind") == "images":
            assert [c.split(":")[0] for c in caps] == [f"Image-{k + 1}" for k in range(len(rec["media"]))]
        if rec["family"] == "r4d":
            assert "som" in figs[0]["a"]["class"].split() and "marked first frame (Set-of-Marks)" in caps[0]
            legend = {e["a"]["data-obj"]: " ".join(e["text"].split()) for e in find(elems, "li", "region-legend")}
            assert legend == {
                name: f"<{name}> = mark {name[4:]} on image 1: object {g['object_id']}, at ({g['x']:.3f}, {g['y']:.3f})"
                for name, g in meta["regions"].items()}
            rings = {e["a"]["data-obj"]: e["a"] for e in find(elems, "circle", "region")}
            for name, g in meta["regions"].items():  # drawn over the marked image, at the mark's centre
                assert abs(float(rings[name]["cx"]) - g["x"] * fd.W) < 1e-6 and abs(float(rings[name]["cy"]) - g["y"] * fd.H) < 1e-6
        else:
            assert find(elems, "li", "region-legend") == []
        if "time_window" in meta:
            t0, t1 = meta["time_window"]
            som = meta.get("som_image")
            want = [i for i, (m, t) in enumerate(zip(rec["media"], rec["timestamps"])) if m != som and t0 - 1e-6 <= t <= t1 + 1e-6]
            got = [i for i, f in enumerate(figs) if "in-window" in f["a"]["class"].split()]
            assert got == want and want, rid
            assert find(elems, "p", "window")[0]["text"].startswith("stated time")
        if rec["family"] == "timebench":
            step, dur = meta["step"], rec["timestamps"][-1]
            assert find(elems, "p", "timing")[0]["text"] == (
                f"clip: 30 fps, one image every {step} frames ({step / 30:.3g} s), 5 images over {dur:.3g} s")
        if "unit" in meta or rec["answer_format"] == "coord":
            value = find(elems, "dd", "meta-value")[0]["text"]
            v = meta["value"]
            unit = meta.get("unit", "0-999 scale")
            assert value == f"{json.dumps(v, separators=(', ', ': '))} {unit}", (rid, value)  # e.g. "[10, -20, 300] mm"
        pts = find(elems, "circle", "point")
        if rec["task"] == "correspondence_coord":
            got = sorted((e["a"]["data-label"], round(float(e["a"]["cx"]), 6)) for e in pts)
            assert got == sorted((q["label"], round(q["x"] / 1000 * fd.W, 6)) for q in meta["points"])
        elif rec["task"] == "depth_comparison_dot":
            assert pts == []  # the dots and their letters are drawn into the image
    assert seen == set(FAMILIES)


@pytest.mark.browser
def test_family_filter_and_marks_on_screen(fam_gallery, chromium, serve, tmp_path):  # noqa: F811
    root, records = fam_gallery
    url = serve(root) + "/gallery/index.html"
    p = Elements()
    p.feed(run_chromium(chromium, "--dump-dom", url + "#family=r4d"))
    shown = [rid for rid, el in p.cards.items() if "hidden" not in el[0]["a"]]
    assert sorted(shown) == sorted(r["id"] for s in records.values() for r in s if r["family"] == "r4d")
    shot = tmp_path / "r4d.png"
    run_chromium(chromium, "--window-size=1000,900", f"--screenshot={shot}", url + "#family=r4d")
    with Image.open(shot) as im:
        a = np.asarray(im.convert("RGB")).astype(int)
    # the numbered marks (red and green discs drawn into the prefix image) are on screen
    for colour in ((230, 25, 35), (20, 200, 60)):
        assert (np.abs(a - np.array(colour)).sum(axis=2) < 40).sum() > 20, colour
