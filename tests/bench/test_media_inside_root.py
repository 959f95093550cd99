"""No evaluation reads (or sends to a model) a media file outside the dataset or media root: such
a record fails on its own with an error naming it, and the other records are asked as usual."""

import json
import os

import pytest

from qa4d.bench.benchmarks.qa4d import QA4D
from qa4d.bench.media import MediaError, missing_media
from qa4d.bench.models.base import Model
from qa4d.bench.runner import run_model
from tests.bench.tiny_bench import TinyBench, make_items, read_lines
from tests.export.conftest import build_dataset


class RecordingModel(Model):
    needs_images = True

    def __init__(self):
        self.asked: list[str] = []

    def generate(self, prompt, images, item):
        self.asked.append(item.id)
        return f"Answer: {item.answer}"


def _escape(root, tmp_path, items):
    """Item 1 names a file beside the root with '..'; item 2 one through a symlink out of the root."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes((root / items[0].media[0]).read_bytes())
    items[1].media[0] = "../outside/secret.png"
    os.symlink(outside / "secret.png", root / "clip002" / "link.png")
    items[2].media[-1] = "clip002/link.png"


def test_run_reports_escaping_records_and_goes_on(tmp_path):
    root = tmp_path / "media"
    items = make_items(root, 4)
    _escape(root, tmp_path, items)
    model = RecordingModel()
    res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=root, progress=False)
    assert sorted(model.asked) == ["q0", "q3"]
    lines = {r["id"]: r for r in read_lines(tmp_path / "run" / "predictions.jsonl")}
    assert lines["q1"]["response"] is None and "item q1: media[0]" in lines["q1"]["error"] and "'..'" in lines["q1"]["error"]
    assert lines["q2"]["response"] is None and "item q2: media[5]" in lines["q2"]["error"] and "outside" in lines["q2"]["error"]
    assert res is not None


def test_missing_media_names_escaping_items(tmp_path):
    root = tmp_path / "media"
    items = make_items(root, 3)
    _escape(root, tmp_path, items)
    problems = missing_media(items, root)
    assert [p.split(":")[0] for p in problems] == ["item q1", "item q2"]


@pytest.mark.parametrize("entry", ["../outside.png", "/etc/hostname", "bench/../../outside.png"])
def test_qa4d_benchmark_refuses_media_outside_the_dataset(tmp_path, entry):
    root = tmp_path / "ds"
    records = build_dataset(root)
    (tmp_path / "outside.png").write_bytes((root / records["bench"][0]["media"][0]).read_bytes())
    recs = [dict(r) for r in records["bench"]]
    recs[1]["media"] = [entry] + recs[1]["media"][1:]
    (root / "bench" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    bench = QA4D()
    items = bench.load(root / "bench")            # loading (and scoring) needs no media
    assert bench.media_paths(items[0], None)[0] == root.resolve() / recs[0]["media"][0]
    with pytest.raises(MediaError, match=f"item {recs[1]['id']}: media\\[0\\]"):
        bench.media_paths(items[1], None)
    with pytest.raises(MediaError, match=f"item {recs[1]['id']}"):
        bench.media_paths(items[1], root)        # an explicit --media-root is held to the same rule
    assert bench.check_media(items, None) == []   # the bad record fails when asked, not the whole run


def test_lmms_eval_task_refuses_media_outside_its_root(tmp_path, monkeypatch):
    from qa4d.bench import lmms_eval_utils

    root = tmp_path / "media"
    make_items(root, 1, n_frames=2)
    (tmp_path / "secret.png").write_bytes((root / "clip000" / "000.png").read_bytes())
    monkeypatch.setenv("QA4D_MEDIA_ROOT", str(root))
    assert len(lmms_eval_utils.doc_to_visual({"id": "ok", "media": ["clip000/000.png", "clip000/001.png"]})) == 2
    with pytest.raises(ValueError, match=r"record 'bad': media\[1\]"):
        lmms_eval_utils.doc_to_visual({"id": "bad", "media": ["clip000/000.png", "../secret.png"]})
