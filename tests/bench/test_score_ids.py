"""`qa4d score` on VLM4D predictions as the authors' tools write them: ids as in one annotation file
("validation_1"), the file prefix needed only when both files are scored, unknown or ambiguous ids
reported, and a file whose ids mostly match no question refused (never a silent 0.0)."""

from __future__ import annotations

import json

import pytest

from qa4d.bench.registry import get_benchmark
from qa4d.bench.scoring import resolve_prediction_ids
from qa4d.cli import main as qa4d_main
from tests.bench.scoring_fixtures import VLM4D_DIR, write_jsonl


def _records(name):
    return json.loads((VLM4D_DIR / name).read_text())


def _right_letter(rec):
    return next(k for k, v in rec["choices"].items() if str(v) == str(rec["answer"]))


def _score(tmp_path, annotations, preds, capsys):
    write_jsonl(tmp_path / "pred.jsonl", preds)
    out = tmp_path / "out"
    rc = qa4d_main(["score", "--benchmark", "vlm4d", "--annotations", str(annotations),
                    "--predictions", str(tmp_path / "pred.jsonl"), "--out", str(out)])
    err = capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text()) if rc == 0 else None
    return rc, err, metrics


def test_one_file_accepts_its_own_ids(tmp_path, capsys):
    recs = _records("real_mc.json")
    # the first half answered right, the rest wrong, under the ids written in the file
    half = len(recs) // 2
    preds = [{"id": r["id"], "response": _right_letter(r) if i < half else
              next(k for k in r["choices"] if str(r["choices"][k]) != str(r["answer"]))} for i, r in enumerate(recs)]
    rc, err, m = _score(tmp_path, VLM4D_DIR / "real_mc.json", preds, capsys)
    assert rc == 0, err
    assert m["overall"]["n"] == len(recs) and m["overall"]["missing"] == 0
    assert m["overall"]["accuracy"] == pytest.approx(half / len(recs))
    assert m["unknown_prediction_ids"] == 0 and m["ambiguous_prediction_ids"] == 0
    scored = [json.loads(x) for x in (tmp_path / "out" / "scored.jsonl").read_text().splitlines()]
    assert [s["id"] for s in scored] == [f"real_mc/{r['id']}" for r in recs]
    # the same answers under the prefixed ids give the same scores
    prefixed = [dict(p, id=f"real_mc/{p['id']}") for p in preds]
    rc, _, m2 = _score(tmp_path, VLM4D_DIR / "real_mc.json", prefixed, capsys)
    assert rc == 0 and m2["overall"] == m["overall"]


def test_both_files_need_the_prefix(tmp_path, capsys):
    real, syn = _records("real_mc.json"), _records("synthetic_mc.json")
    assert {r["id"] for r in real} & {r["id"] for r in syn}  # ids restart in each file
    preds = [{"id": f"real_mc/{r['id']}", "response": _right_letter(r)} for r in real]
    preds += [{"id": f"synthetic_mc/{r['id']}", "response": _right_letter(r)} for r in syn]
    rc, err, m = _score(tmp_path, VLM4D_DIR, preds, capsys)
    assert rc == 0 and m["overall"]["accuracy"] == 1.0 and m["overall"]["n"] == len(real) + len(syn)
    # the synthetic answers without their prefix: none is scored, each is reported
    bare = [{"id": r["id"], "response": _right_letter(r)} for r in syn]
    assert 2 * len(bare) <= len(real) + len(syn)  # a minority: the rest is scored
    rc, err, m = _score(tmp_path, VLM4D_DIR, preds[: len(real)] + bare, capsys)
    assert rc == 0, err
    assert m["ambiguous_prediction_ids"] == len(syn)
    assert m["by_split"]["synthetic"]["missing"] == len(syn) and m["by_split"]["real"]["correct"] == len(real)
    assert "do not say which question they answer, e.g. 'validation_1': real_mc/validation_1 or " \
           "synthetic_mc/validation_1; not scored (write the file prefix)" in err


def test_most_ids_unknown_fails_with_a_clear_message(tmp_path, capsys):
    recs = _records("synthetic_mc.json")
    preds = [{"id": f"question-{i}", "response": "A"} for i in range(len(recs))]
    rc, err, _ = _score(tmp_path, VLM4D_DIR / "synthetic_mc.json", preds, capsys)
    assert rc == 2
    lines = [x for x in err.splitlines() if x.startswith("error:")]
    assert len(lines) == 1
    assert f"{len(recs)} of {len(recs)} prediction ids match no vlm4d question" in lines[0]
    assert "'question-0'" in lines[0] and "expected ids like 'synthetic_mc/validation_1'" in lines[0]
    assert not (tmp_path / "out" / "metrics.json").exists()


def test_bare_ids_against_both_files_fail_when_most_are_ambiguous(tmp_path, capsys):
    real = _records("real_mc.json")
    syn_ids = {r["id"] for r in _records("synthetic_mc.json")}
    preds = [{"id": r["id"], "response": _right_letter(r)} for r in real if r["id"] in syn_ids]
    rc, err, _ = _score(tmp_path, VLM4D_DIR, preds, capsys)
    assert rc == 2
    assert "do not say which annotation file's question they answer" in err
    assert "real_mc/validation_1 or synthetic_mc/validation_1" in err and "score one annotation file" in err


def test_an_empty_predictions_file_is_refused(tmp_path, capsys):
    rc, err, _ = _score(tmp_path, VLM4D_DIR / "real_mc.json", [], capsys)
    assert rc == 2 and "holds no predictions" in err


def test_a_few_unknown_ids_are_reported_and_the_rest_scored(tmp_path, capsys):
    recs = _records("real_mc.json")
    preds = [{"id": r["id"], "response": _right_letter(r)} for r in recs]
    preds.append({"id": "validation_99999", "response": "A"})
    rc, err, m = _score(tmp_path, VLM4D_DIR / "real_mc.json", preds, capsys)
    assert rc == 0
    assert m["unknown_prediction_ids"] == 1 and m["overall"]["accuracy"] == 1.0
    assert "1 prediction id(s) match no question, e.g. 'validation_99999'" in err


def test_own_id_wins_over_an_alias_and_a_response_over_an_error():
    b = get_benchmark("vlm4d")()
    items = b.load(VLM4D_DIR / "real_mc.json")[:3]
    a, c, e = items[0], items[1], items[2]
    res = resolve_prediction_ids(b, items, {a.id: "A", a.meta["source_id"]: "B", c.meta["source_id"]: "C"},
                                 {c.id: "timeout", e.meta["source_id"]: "HTTP 500"})
    assert res.responses == {a.id: "A", c.id: "C"}
    assert res.errors == {e.id: "HTTP 500"}
    assert res.duplicates == [a.meta["source_id"]] and res.unknown == [] and res.ambiguous == {}
    assert res.n_ids == 5
