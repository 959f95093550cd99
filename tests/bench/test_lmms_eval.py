"""`qa4d export-lmms-eval`: the task YAML parses with lmms-eval's `!function` tags and the exported
utils.py functions run on the exported docs and score like `qa4d score`."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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


# ----------------------------------------------------------------------------- dataset root, budget, groups

def _export(tmp_path, *argv) -> tuple[Path, dict, list[dict], object]:
    out = tmp_path / "task"
    assert qa4d_main(["export-lmms-eval", *map(str, argv), "--out", str(out)]) == 0
    cfg = next(yaml.load(p.read_text(), Loader=_TaskLoader) for p in out.glob("*.yaml"))
    docs = [json.loads(line) for line in (out / "test.jsonl").read_text().splitlines()]
    spec = importlib.util.spec_from_file_location(f"utils_{tmp_path.name}", out / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    return out, cfg, docs, utils


def test_dataset_root_and_split_directory_give_the_same_task(generated, tmp_path):
    _, cfg_root, docs_root, _ = _export(tmp_path / "a", generated)
    _, cfg_split, docs_split, _ = _export(tmp_path / "b", generated / "bench")
    assert cfg_root["task"] == cfg_split["task"] == "qa4d_ds_bench"
    assert [d["id"] for d in docs_root] == [d["id"] for d in docs_split]
    bench_ids = [json.loads(x)["id"] for x in (generated / "bench/samples.jsonl").read_text().splitlines()]
    assert [d["id"] for d in docs_root] == bench_ids
    _, cfg_train, docs_train, _ = _export(tmp_path / "c", generated, "--split", "train")
    assert cfg_train["task"] == "qa4d_ds_train"
    assert {d["answer_format"] for d in docs_train} >= {"free"}  # the train split's free answers


def test_bad_dataset_paths_are_one_line_errors(generated, tmp_path, capsys):
    assert qa4d_main(["export-lmms-eval", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "no such dataset" in capsys.readouterr().err
    assert qa4d_main(["export-lmms-eval", str(generated / "bench"), "--split", "train", "--out", str(tmp_path / "o")]) == 2
    assert "'bench' split directory, but --split train" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert qa4d_main(["export-lmms-eval", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "bench/samples.jsonl" in err and len(err.strip().splitlines()) == 1


def _worst_case_tokenizer():
    """A byte-level BPE tokenizer with no merges: one token per UTF-8 byte, the most tokens any
    byte-level tokenizer needs for a text."""
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer(tokenizers.models.BPE())
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=256, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(["a b c"], trainer=trainer)
    return tok


def test_generation_budget_fits_the_longest_expected_answer(generated, tmp_path):
    from qa4d.bench.models.baselines import ObedientModel

    tok = _worst_case_tokenizer()
    _, cfg, docs, utils = _export(tmp_path / "do", generated)
    budget = cfg["generation_kwargs"]["max_new_tokens"]
    model = ObedientModel()
    longest = 0
    for d in docs:
        reply = model.generate(utils.doc_to_text(d), [], utils._item(d))
        variants = [reply]
        if d["answer_format"] == "track":  # a model may pretty-print its JSON
            variants.append(json.dumps(json.loads(reply), indent=2))
        for text in variants:
            n = len(tok.encode(text).ids)
            longest = max(longest, n)
            assert n <= budget, (d["id"], n, budget)
    assert longest > 64  # the tracks do not fit the old fixed budget of 64 tokens
    _, cfg_cot, _, _ = _export(tmp_path / "cot", generated, "--mode", "cot")
    assert cfg_cot["generation_kwargs"]["max_new_tokens"] >= budget + 1024


def test_an_explicit_small_budget_is_kept_with_a_warning(generated, tmp_path, capsys):
    _, cfg, _, _ = _export(tmp_path, generated, "--max-new-tokens", "32")
    assert cfg["generation_kwargs"]["max_new_tokens"] == 32
    assert "may cut the longest expected answer" in capsys.readouterr().err


@pytest.mark.parametrize("mode", ["do", "cot"])
def test_obedient_scores_one_through_the_exported_task(generated, tmp_path, mode):
    from qa4d.bench.models.baselines import ObedientModel

    _, cfg, docs, utils = _export(tmp_path, generated, "--mode", mode)
    model = ObedientModel()
    per_metric: dict[str, list] = {}
    for d in docs:
        reply = model.generate(utils.doc_to_text(d), [], utils._item(d))
        for k, v in utils.process_results(d, [reply]).items():
            per_metric.setdefault(k, []).append(v)
    assert set(per_metric) == {m["metric"] for m in cfg["metric_list"]}
    for name, values in per_metric.items():
        assert utils.aggregate_results(values) == 1.0, name


def test_reports_per_task_and_per_category_like_qa4d_score(generated, tmp_path):
    from qa4d.bench.models.baselines import ObedientModel

    _, cfg, docs, utils = _export(tmp_path, generated)
    bench = get_benchmark("qa4d")()
    items = bench.load(generated / "bench")
    tasks = sorted({it.task for it in items})
    categories = sorted({it.category for it in items})
    names = [m["metric"] for m in cfg["metric_list"]]
    assert names == ["qa4d_accuracy"] + [f"task_{t}" for t in tasks] + [f"category_{c}" for c in categories]
    for m in cfg["metric_list"]:
        assert m["aggregation"] == ("function", "utils.aggregate_results") and m["higher_is_better"] is True
    # every third item answered wrongly: per-group scores differ from 1.0 and from each other
    model = ObedientModel()
    answers = {d["id"]: ("no idea" if i % 3 == 0 else model.generate(utils.doc_to_text(d), [], utils._item(d)))
               for i, d in enumerate(docs)}
    per_metric: dict[str, list] = {}
    for d in docs:  # what lmms-eval does: each metric aggregates the values returned under its name
        for k, v in utils.process_results(d, [answers[d["id"]]]).items():
            per_metric.setdefault(k, []).append(v)
    _, metrics = score_responses(bench, items, answers)
    assert utils.aggregate_results(per_metric["qa4d_accuracy"]) == pytest.approx(metrics["overall"]["accuracy"])
    for t in tasks:
        assert utils.aggregate_results(per_metric[f"task_{t}"]) == pytest.approx(metrics["by_task"][t]["accuracy"]), t
        assert len(per_metric[f"task_{t}"]) == metrics["by_task"][t]["n"]
    for c in categories:
        assert utils.aggregate_results(per_metric[f"category_{c}"]) == pytest.approx(metrics["by_category"][c]["accuracy"]), c
    assert len({round(metrics["by_task"][t]["accuracy"], 6) for t in tasks}) > 1


def test_metric_names_that_would_collide_are_refused():
    from qa4d.bench.lmms_eval import ExportError, metric_names
    from qa4d.bench.types import BenchItem

    items = [BenchItem("1", "qa4d", "depth-x", "q", "yes", "yesno", category="spatial"),
             BenchItem("2", "qa4d", "depth_x", "q", "no", "yesno", category="spatial")]
    with pytest.raises(ExportError, match="'depth-x' and 'depth_x' both become the metric name 'task_depth_x'"):
        metric_names(items)
    tasks, cats = metric_names(items[:1])
    assert tasks == {"depth-x": "task_depth_x"} and cats == {"spatial": "category_spatial"}
