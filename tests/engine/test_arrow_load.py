"""samples.jsonl loads with the JSON reader of Hugging Face `datasets` (pyarrow.json): every field
keeps one type across records, whatever the task."""

from __future__ import annotations

import importlib.util
import json

import pyarrow as pa
import pyarrow.json as pj
import pytest

from qa4d.engine.config import GenerateConfig
from qa4d.engine.generate import generate


@pytest.fixture(scope="module")
def sim_dataset(sim_scenes, tmp_path_factory):
    out = tmp_path_factory.mktemp("arrow") / "ds"
    generate(GenerateConfig(scenes=str(sim_scenes), out=str(out), seed=0, bench_fraction=0.5, media_frames=6),
             log=lambda m: None)
    return out


def _both_splits(ds, tmp_path):
    """train + bench in one file: one schema must hold for the whole dataset."""
    lines = [(ds / s / "samples.jsonl").read_text() for s in ("train", "bench")]
    path = tmp_path / "all.jsonl"
    path.write_text("".join(lines))
    return path, sum(t.count("\n") for t in lines)


@pytest.mark.parametrize("which", ["toy_dataset", "sim_dataset"])
def test_samples_read_with_pyarrow_json(which, request, tmp_path):
    ds = request.getfixturevalue(which)
    path, n = _both_splits(ds, tmp_path)
    recs = [json.loads(line) for line in path.read_text().splitlines()]
    tasks = {r["task"] for r in recs}
    assert {"camera_movement", "agent_motion", "object_rotation"} & tasks  # list, dict and str labels
    # small blocks: type inference starts again at every block, as in a large file
    table = pj.read_json(path, read_options=pj.ReadOptions(block_size=1 << 14))
    assert table.num_rows == n
    meta = table.schema.field("meta").type
    assert pa.types.is_struct(meta)
    for name in ("label", "statement"):
        if meta.get_field_index(name) >= 0:
            assert pa.types.is_string(meta.field(name).type), (name, meta.field(name).type)
    col = table.column("meta").to_pylist()
    labelled = [(r, m) for r, m in zip(recs, col) if "label" in r["meta"]]
    assert labelled and all(m["label"] == r["meta"]["label"] for r, m in labelled)
    assert table.column("answer").type == pa.string()


def test_samples_load_with_hugging_face_datasets(toy_dataset, tmp_path):
    if importlib.util.find_spec("datasets") is None:
        pytest.skip("Hugging Face datasets is not installed")
    import datasets

    path, n = _both_splits(toy_dataset, tmp_path)
    d = datasets.load_dataset("json", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(d) == n
