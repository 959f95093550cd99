"""`qa4d export-lmms-eval`: the task YAML parses with lmms-eval's `!function` tags and the exported
utils.py functions run on the exported docs and score like `qa4d score`."""

from __future__ import annotations

import importlib.util
import json
import sys

import pytest

yaml = pytest.importorskip("yaml")  # PyYAML: pulled in by the hf extra; the test extra should list it

from qa4d.bench.registry import get_benchmark  # noqa: E402
from qa4d.bench.scoring import score_responses  # noqa: E402
from qa4d.cli import main as qa4d_main  # noqa: E402
from tests.bench.scoring_fixtures import make_qa4d_split  # noqa: E402


class _TaskLoader(yaml.SafeLoader):
    """lmms-eval's YAML loader resolves `!function module.name`; here we keep the reference."""


_TaskLoader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


@pytest.fixture()
def exported(tmp_path):
    split = make_qa4d_split(tmp_path)
    out = tmp_path / "task"
    assert qa4d_main(["export-lmms-eval", str(split), "--out", str(out), "--task-name", "qa4d_tiny"]) == 0
    spec = importlib.util.spec_from_file_location("qa4d_tiny_utils", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    docs = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    yield split, out, utils, docs
    sys.modules.pop("qa4d_tiny_utils", None)


def test_yaml_follows_lmms_eval_conventions(exported):
    _, out, _, docs = exported
    cfg = yaml.load((out / "qa4d_tiny.yaml").read_text(), Loader=_TaskLoader)
    assert cfg["task"] == "qa4d_tiny"
    assert cfg["dataset_path"] == "json" and cfg["test_split"] == "test"
    assert cfg["dataset_kwargs"]["data_files"]["test"] == str((out / "test.jsonl").resolve())
    assert cfg["output_type"] == "generate_until"
    for key in ("doc_to_visual", "doc_to_text", "doc_to_target", "process_results"):
        assert cfg[key] == ("function", f"utils.{key}")
    metric = cfg["metric_list"][0]
    assert metric["metric"] == "qa4d_accuracy" and metric["aggregation"] == ("function", "utils.aggregate_results")
    assert metric["higher_is_better"] is True
    assert cfg["generation_kwargs"]["do_sample"] is False
    assert len(docs) == 9


def test_utils_functions_run_on_exported_docs(exported):
    split, _, utils, docs = exported
    bench = get_benchmark("qa4d")()
    items = {it.id: it for it in bench.load(split)}
    for d in docs:
        frames = utils.doc_to_visual(d)
        assert len(frames) == 3 and frames[0].size == (320, 240) and frames[0].mode == "RGB"
        assert utils.doc_to_text(d, {"pre_prompt": "", "post_prompt": ""}) == bench.build_prompt(items[d["id"]], "do")
        assert utils.doc_to_text(d, {"pre_prompt": "P:", "post_prompt": ":Q"}).startswith("P:")
        assert utils.doc_to_target(d) == items[d["id"]].answer


def test_utils_score_like_qa4d_score(exported):
    split, _, utils, docs = exported
    oracle = {d["id"]: (json.dumps(json.loads(d["meta_json"])["track"]) if d["answer_format"] == "track" else d["answer"])
              for d in docs}
    res = [utils.process_results(d, [oracle[d["id"]]])["qa4d_accuracy"] for d in docs]
    assert utils.aggregate_results(res) == 1.0

    # a mixed set of answers: lmms-eval's aggregate equals qa4d's overall accuracy on the same text
    answers = {d["id"]: r for d, r in zip(docs, ["A", "Answer: B", "C", "the final answer is A", "garbage", "D",
                                                  "No.", "`red cube`", "frame 5: (110, 55) visible\nframe 10: occluded"])}
    res = [utils.process_results(d, [answers[d["id"]]])["qa4d_accuracy"] for d in docs]
    bench = get_benchmark("qa4d")()
    _, metrics = score_responses(bench, bench.load(split), answers)
    assert utils.aggregate_results(res) == pytest.approx(metrics["overall"]["accuracy"])
    assert 0.0 < metrics["overall"]["accuracy"] < 1.0
    assert sum(not r["parsed"] for r in res) == metrics["overall"]["unparsed"] == 1


def test_media_root_override(exported, tmp_path, monkeypatch):
    split, _, utils, docs = exported
    monkeypatch.setenv("QA4D_MEDIA_ROOT", str(tmp_path / "elsewhere"))
    with pytest.raises(FileNotFoundError):
        utils.doc_to_visual(docs[0])
    monkeypatch.setenv("QA4D_MEDIA_ROOT", str(split.parent))
    assert len(utils.doc_to_visual(docs[0])) == 3
