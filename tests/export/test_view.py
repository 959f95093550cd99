"""The HTML gallery, tested in a real headless browser (Debian's chromium) over a real HTTP server."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from qa4d.cli import main as qa4d_main
from qa4d.export.view import select_round_robin, write_gallery

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def chromium() -> str:
    path = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
    if not path:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (apt-get install -y chromium)")
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); browser tests skipped")
    return path


def run_chromium(chromium: str, *args: str, timeout: float = 120) -> str:
    with tempfile.TemporaryDirectory(prefix="qa4d-chromium-") as profile:
        proc = subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture()
def serve():
    """serve(directory) -> base URL of a real HTTP server on 127.0.0.1 for that directory."""
    servers = []

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    def start(directory: Path) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(directory)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for s in servers:
        s.shutdown()
        s.server_close()


class Cards(HTMLParser):
    """Sample cards of a dumped DOM: attributes, visibility and what is inside each."""

    def __init__(self) -> None:
        super().__init__()
        self.cards: list[dict[str, Any]] = []
        self._depth = 0  # element depth inside the current card
        self._text_target: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "article" and "sample" in (a.get("class") or "").split():
            self.cards.append({**a, "hidden": "hidden" in a, "tags": [], "text": {}})
            self._depth = 1
            return
        if not self._depth:
            return
        self._depth += 1
        self.cards[-1]["tags"].append((tag, a))
        cls = (a.get("class") or "").split()
        for name in ("question", "answer", "missing"):
            if name in cls:
                self._text_target = name

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._depth:
            self.cards[-1]["tags"].append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if self._depth:
            self._depth -= 1
            if tag in ("p", "div"):
                self._text_target = None

    def handle_data(self, data: str) -> None:
        if self._depth and self._text_target:
            t = self.cards[-1]["text"]
            t[self._text_target] = t.get(self._text_target, "") + data


def parse_cards(dom: str) -> list[dict[str, Any]]:
    p = Cards()
    p.feed(dom)
    return p.cards


def visible_ids(dom: str) -> list[str]:
    return [c["id"][2:] for c in parse_cards(dom) if not c["hidden"]]


@pytest.mark.browser
def test_gallery_in_headless_chromium(dataset, chromium, serve, tmp_path):
    root, records = dataset
    # text that would break out of the page if it were not escaped
    p = root / "bench" / "samples.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    recs[0]["question"] = "Is </script><b id='pwn'>x</b> left of the chair?"
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    records["bench"] = recs

    index, n, problems = write_gallery(root, split="all", limit=0)
    assert problems == [] and index == root / "gallery" / "index.html"
    allrecs = records["train"] + records["bench"]
    assert n == len(allrecs)
    page = index.read_text()
    # self-contained: no external scripts, styles or images
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page

    url = serve(root) + "/gallery/index.html"
    dom = run_chromium(chromium, "--dump-dom", url)
    cards = parse_cards(dom)
    assert [c["id"][2:] for c in cards] == [r["id"] for r in allrecs]
    assert all(not c["hidden"] for c in cards)
    assert f"{len(allrecs)} of {len(allrecs)} samples shown" in dom
    assert "pwn" not in [a.get("id") for c in cards for _, a in c["tags"]]
    by_id = {r["id"]: r for r in allrecs}
    for c in cards:
        rec = by_id[c["id"][2:]]
        assert c["data-task"] == f"{rec['family']}/{rec['task']}" and c["data-task-name"] == rec["task"]
        imgs = [a for t, a in c["tags"] if t == "img"]
        assert [a["src"] for a in imgs] == ["../" + m for m in rec["media"]]
        assert "missing" not in c["text"], c["text"]  # every image loaded over HTTP
        assert c["text"]["question"] == rec["question"]
        options = [a for t, a in c["tags"] if t == "li"]
        correct = [a["data-letter"] for a in options if "correct" in a["class"].split()]
        if rec["answer_format"] == "mc":
            assert len(options) == len(rec["options"]) and correct == [rec["answer"]]
        else:
            assert options == [] and rec["answer"] in c["text"]["answer"]
        svgs = [a for t, a in c["tags"] if t == "svg"]
        if rec["answer_format"] != "track":
            assert svgs == []
            continue
        # the track over the query frame: a polyline through the query point and every target,
        # filled circles for visible points, hollow ones for the rest, in image pixels
        track = rec["meta"]["track"]
        w, h = Image.open(root / rec["media"][0]).size
        assert svgs and svgs[0]["viewbox"] == f"0 0 {w} {h}"
        lines = [a for t, a in c["tags"] if t == "polyline"]
        assert len(lines) == 1
        pts = np.array([[float(v) for v in xy.split(",")] for xy in lines[0]["points"].split()])
        q = rec["meta"]["query"]
        want = [(q["x"] * w, q["y"] * h)] + [(t["x"] * w, t["y"] * h) for t in sorted(track, key=lambda t: t["frame"])]
        np.testing.assert_allclose(pts, want, atol=0.01)
        circles = [a for t, a in c["tags"] if t == "circle" and a.get("class") == "track-point"]
        on_query = circles[: len(track)]
        assert sorted((int(a["data-frame"]), a["fill"] == "none") for a in on_query) == sorted(
            (t["frame"], not t["visible"]) for t in track
        )
        # a visual track also marks each target in its own image; a true-motion track does not:
        # its coordinates are in the query frame's fixed view, not in the later images
        own_image = circles[len(track):]
        if rec["task"] == "true_motion_point_tracking":
            assert len(svgs) == 1 and own_image == []
        else:
            shown = {t["frame"] for t in track} & set(rec["frame_indices"])
            assert len(svgs) == 1 + len(shown) and len(own_image) == len(shown)

    # the filter, applied from the URL fragment on load, leaves exactly one task's samples
    for task, split in (("depth", None), ("true_motion_point_tracking", "bench")):
        frag = f"#task={task}" + (f"&split={split}" if split else "")
        dom = run_chromium(chromium, "--dump-dom", url + frag)
        want = [r["id"] for r in allrecs if r["task"] == task and (split is None or r in records[split])]
        assert visible_ids(dom) == want and len(want) > 0
        assert f"{len(want)} of {len(allrecs)} samples shown" in dom


@pytest.mark.browser
def test_gallery_screenshot_is_not_blank(dataset, chromium, serve, tmp_path):
    root, _ = dataset
    out = tmp_path / "gal"
    # a gallery outside the dataset still finds the frames by relative path
    assert qa4d_main(["view", str(root), "--out", str(out), "--split", "bench"]) == 0
    base = serve(tmp_path)
    shot = tmp_path / "shot.png"
    run_chromium(chromium, "--window-size=1200,1400", f"--screenshot={shot}", f"{base}/gal/index.html#task=true_motion_point_tracking")
    with Image.open(shot) as im:
        a = np.asarray(im.convert("RGB")).astype(int)
    assert a.shape[:2] == (1400, 1200)
    background = np.median(a.reshape(-1, 3), axis=0)
    differs = (np.abs(a - background).sum(axis=2) > 30).mean()
    assert differs > 0.05, f"only {differs:.1%} of the screenshot differs from the background"
    assert len(np.unique(a.reshape(-1, 3), axis=0)) > 200  # text, frames and track colours
    # the track colour (#ff2d55) is on screen
    assert (np.abs(a - np.array([255, 45, 85])).sum(axis=2) < 40).sum() > 20


@pytest.mark.browser
def test_missing_frame_is_flagged_in_the_page(dataset, chromium, serve):
    root, records = dataset
    rec = records["bench"][1]
    index, _, _ = write_gallery(root, split="bench", limit=0)
    (root / rec["media"][0]).unlink()  # removed after writing: only the browser can notice
    dom = run_chromium(chromium, "--dump-dom", serve(root) + "/gallery/index.html")
    flagged = [c["id"][2:] for c in parse_cards(dom) if "missing" in c["text"]]
    assert rec["id"] in flagged
    others = {r["id"] for r in records["bench"] if rec["media"][0] not in r["media"]}
    assert not others & set(flagged)


def test_limit_is_round_robin_over_tasks(dataset):
    root, records = dataset
    tasks = sorted({r["task"] for r in records["bench"]})
    chosen = select_round_robin(records["bench"], len(tasks) + 2)
    assert len(chosen) == len(tasks) + 2
    assert sorted({r["task"] for r in chosen}) == tasks  # every task shown
    assert select_round_robin(records["bench"], 0) == records["bench"]
    index, n, problems = write_gallery(root, split="bench", limit=len(tasks))
    page = index.read_text()
    data = json.loads(re.search(r'<script type="application/json" id="qa4d-data">(.*?)</script>', page, re.S).group(1))
    assert n == len(tasks) and sorted(s["task"] for s in data["samples"]) == tasks
    totals = {t["task"]: (t["shown"], t["total"]) for t in data["tasks"]}
    assert totals == {f"4dpqa/{t}": (1, sum(r["task"] == t for r in records["bench"])) for t in tasks}


def test_view_reports_missing_media(dataset, capsys):
    root, records = dataset
    rec = records["train"][0]
    (root / rec["media"][0]).unlink()
    assert qa4d_main(["view", str(root), "--split", "train"]) == 1
    err = capsys.readouterr().err
    assert rec["id"] in err and rec["media"][0] in err


def test_gallery_rounds_measurements(dataset, tmp_path):
    from qa4d.export.view import sample_view

    root, records = dataset
    rec = json.loads(json.dumps(records["bench"][0]))
    rec["meta"]["measurement"] = {"values": [1.23456789, 0.000123456789, 12345.678], "n": 7, "first": 2.0,
                                  "series": [None, 0.30000000000000004], "ok": True}
    card = sample_view(rec, "bench", root, tmp_path, [])
    shown = dict(card["meta"])["measurement"]
    assert json.loads(shown) == {"values": [1.235, 0.0001235, 12350.0], "n": 7, "first": 2.0,
                                 "series": [None, 0.3], "ok": True}
    assert "1.23456789" not in json.dumps(card)
