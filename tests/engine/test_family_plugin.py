"""A family is one folder: a toy family written to a temporary folder (touching no other file) is
found through --family-path, generates from toy scenes, and passes the audit.

The toy family asks how far the camera travels between the first and the last image, in whole
millimetres (a numeric "scalar" answer); the toy scenes move their camera at a known constant
velocity, so the answer is known in closed form: |eye_velocity| x (frames apart) x 1000.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qa4d.dataset import read_samples
from tests.engine import toy

INIT = '''
from pathlib import Path

from qa4d.engine.registry import register_family

register_family("toyfam", Path(__file__).parent, categories=("camera",))

from . import camera_travel  # noqa: E402,F401
'''

TASK = '''
import numpy as np

from qa4d.engine.kinds.numeric import NumericTask
from qa4d.engine.registry import register_task


@register_task
class CameraTravel(NumericTask):
    family = "toyfam"
    name = "camera_travel"
    category = "camera"
    answer_format = "scalar"
    unit = "mm"

    def items(self, ctx, seg, rng):
        return [{"objects": []}]

    def value(self, scene, item, media, thresholds):
        c2w = scene.cam_to_world
        d = float(np.linalg.norm(c2w[media[-1], :3, 3] - c2w[media[0], :3, 3]))
        return 1000.0 * d if d >= thresholds.min_travel_m else None
'''

TEMPLATES = {
    "task": "camera_travel",
    "category": "camera",
    "slots": {"questions": {"scalar": {"provided": []}},
              "answers": {"scalar": {"provided": ["answer"], "required": ["answer"]}}},
    "questions": {"scalar": ["How far does the camera travel from the first image to the last, in millimetres?"]},
    "answers": {"scalar": ["`{answer}`"]},
}

THRESHOLDS = {"_doc": {"min_travel_m": "smallest camera travel asked about"},
              "default": {"min_travel_m": 0.05}, "sources": {}}

SPEEDS = [(0.1, 0.0, 0.0), (0.0, 0.05, 0.02), (-0.03, 0.04, 0.0), (0.0, 0.0, 0.0)]


def write_family(root: Path) -> None:
    pkg = root / "toyfam"
    (pkg / "templates").mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(INIT))
    (pkg / "camera_travel.py").write_text(textwrap.dedent(TASK))
    (pkg / "templates" / "camera_travel.json").write_text(json.dumps(TEMPLATES))
    (pkg / "thresholds.json").write_text(json.dumps(THRESHOLDS))


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def toy_family_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin")
    write_family(root / "families")
    scenes = root / "scenes"
    for i, v in enumerate(SPEEDS):
        toy.build(toy.ToyScene(f"cam{i}", [toy.ToyObject("red", (0, 0, 0.5))], frames=12, eye_velocity=v), scenes)
    ds = root / "ds"
    r = cli("generate", "--scenes", str(scenes), "--out", str(ds), "--families", "toyfam",
            "--family-path", str(root / "families"), "--media-frames", "4", "--bench-fraction", "0.5")
    assert r.returncode == 0, r.stderr
    return root, ds


def test_toy_family_from_a_folder_generates_closed_form_answers(toy_family_dataset):
    _, ds = toy_family_dataset
    recs = [r for s in ("train", "bench") if (ds / s / "samples.jsonl").exists()
            for r in read_samples(ds / s / "samples.jsonl")]
    by_scene = {}
    for r in recs:
        assert (r["family"], r["task"], r["answer_format"]) == ("toyfam", "camera_travel", "scalar")
        assert r["id"].startswith("toyfam/") and r["options"] is None and r["meta"]["unit"] == "mm"
        by_scene.setdefault(r["scene_id"], []).append(r)
    # the static camera (cam3) travels 0 m, under min_travel_m: never asked
    assert set(by_scene) == {"cam0", "cam1", "cam2"}
    for sid, rs in by_scene.items():
        v = np.asarray(SPEEDS[int(sid[-1])])
        for r in rs:
            f = r["frame_indices"]
            want = round(1000 * np.linalg.norm(v) * (f[-1] - f[0]))
            assert r["meta"]["value"] == want and r["answer"] == f"`{want}`"
    info = json.loads((ds / "dataset.json").read_text())
    assert info["thresholds"]["toyfam"]["sim"]["min_travel_m"] == 0.05


def test_toy_family_dataset_passes_the_audit_and_a_wrong_value_is_caught(toy_family_dataset):
    root, ds = toy_family_dataset
    r = cli("audit", str(ds), "--family-path", str(root / "families"))
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads((ds / "audit.json").read_text())["disagreements"] == []
    split = "train" if (ds / "train" / "samples.jsonl").exists() else "bench"
    p = ds / split / "samples.jsonl"
    lines = p.read_text().splitlines()
    rec = json.loads(lines[0])
    rec["meta"]["value"] += 7
    lines[0] = json.dumps(rec)
    p.write_text("\n".join(lines) + "\n")
    r = cli("audit", str(ds), "--family-path", str(root / "families"))
    assert r.returncode != 0
    bad = json.loads((ds / "audit.json").read_text())["disagreements"]
    assert [d["id"] for d in bad] == [rec["id"]] and "meta.value" in bad[0]["problems"][0]


def test_unknown_family_is_a_one_line_error(tmp_path):
    r = cli("generate", "--scenes", str(tmp_path), "--out", str(tmp_path / "ds"), "--families", "nosuchfamily")
    assert r.returncode != 0 and "unknown question family 'nosuchfamily'" in r.stderr


def test_toy_family_bench_is_scored_against_meta_value(toy_family_dataset):
    from qa4d.bench.registry import get_benchmark

    root, ds = toy_family_dataset
    split = "bench" if (ds / "bench" / "samples.jsonl").exists() else "train"
    items = get_benchmark("qa4d")().load(ds / split)
    recs = {r["id"]: r for r in read_samples(ds / split / "samples.jsonl")}
    assert items and all(it.answer_format == "scalar" and float(it.answer) == recs[it.id]["meta"]["value"] for it in items)
    r = cli("eval", "--benchmark", str(ds / split), "--model", "oracle", "--out", str(root / "oracle"))
    assert r.returncode == 0, r.stderr
    assert json.loads((root / "oracle" / "metrics.json").read_text())["overall"]["accuracy"] == 1.0
