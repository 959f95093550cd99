"""The dataset package: the schema (and its docs copy), the numeric answer formats' contract,
and writing/reading samples.jsonl."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa4d.dataset import ANSWER_FORMATS, SCHEMA_PATH, RecordError, read_samples, validate_record, write_samples

ROOT = Path(__file__).resolve().parents[2]


def base(**kw):
    r = {"id": "f/s/t/0", "family": "f", "task": "t", "category": "c", "scene_id": "s",
         "media": ["media/s/0.jpg", "media/s/1.jpg"], "frame_indices": [0, 3], "timestamps": [0.0, 0.3],
         "question": "How far?", "options": None, "answer": "`1250`", "answer_format": "scalar",
         "meta": {"objects": [], "measurement": 1.2504, "value": 1250, "unit": "mm"}}
    r.update(kw)
    return r


def test_docs_copy_of_the_schema_is_the_schema():
    assert (ROOT / "docs" / "sample.schema.json").read_text() == SCHEMA_PATH.read_text()


def test_every_bench_answer_format_is_allowed():
    assert ANSWER_FORMATS == ("mc", "yesno", "free", "track", "number", "scalar", "vector", "coord")


@pytest.mark.parametrize("fmt,meta", [
    ("scalar", {"value": 1250, "unit": "mm"}),
    ("number", {"value": 3.5, "unit": "m"}),
    ("vector", {"value": [12, -3, 40], "unit": "mm"}),
    ("coord", {"value": [512, 300], "space": "per_mille", "scale": 1000}),
])
def test_numeric_formats_with_their_meta_are_valid(fmt, meta):
    validate_record(base(answer_format=fmt, meta={"objects": [], "measurement": None, **meta}))


@pytest.mark.parametrize("fmt,meta,field", [
    ("scalar", {"value": 1250}, "meta.unit"),
    ("scalar", {"value": "1250", "unit": "mm"}, "meta.value"),
    ("vector", {"value": [1, 2], "unit": "mm"}, "meta.value"),
    ("coord", {"value": [1, 2], "space": "per_mille"}, "meta.scale"),
    ("coord", {"value": [1, 2, 3], "space": "unit", "scale": 1}, "meta.value"),
])
def test_numeric_formats_without_their_contract_name_the_field(fmt, meta, field):
    with pytest.raises(RecordError) as e:
        validate_record(base(answer_format=fmt, meta={"objects": [], "measurement": None, **meta}), "x.jsonl", 7)
    assert e.value.field == field and "x.jsonl:7" in str(e.value)


def test_options_only_for_mc():
    with pytest.raises(RecordError) as e:
        validate_record(base(options={"A": "1", "B": "2"}))
    assert e.value.field == "options"


def test_write_then_read_round_trip_and_bad_records_are_refused(tmp_path):
    recs = [base(), base(id="f/s/t/1", answer_format="vector", answer="`[1, 2, 3]`",
                         meta={"objects": [], "measurement": None, "value": [1, 2, 3], "unit": "mm"})]
    p = tmp_path / "bench" / "samples.jsonl"
    assert write_samples(p, recs) == 2
    assert read_samples(p) == recs
    with pytest.raises(RecordError) as e:
        write_samples(tmp_path / "bad.jsonl", [base(), base(family=3)])
    assert e.value.line == 2 and e.value.field == "family"
    assert not (tmp_path / "bad.jsonl").exists()


def test_write_samples_streams_and_a_bad_record_leaves_the_old_file(tmp_path):
    p = tmp_path / "samples.jsonl"
    write_samples(p, [base(id="f/s/t/old")])
    old = p.read_bytes()
    taken = []

    def gen(bad_at):
        for i in range(4):
            taken.append(i)
            yield base(id=f"f/s/t/{i}", family=3 if i == bad_at else "f")

    with pytest.raises(RecordError) as e:
        write_samples(p, gen(bad_at=2))
    assert (e.value.line, e.value.field) == (3, "family")
    assert taken == [0, 1, 2]  # records are taken one at a time; the rest is never asked for
    assert p.read_bytes() == old and list(tmp_path.iterdir()) == [p]  # no temporary file left
    assert write_samples(p, gen(bad_at=None)) == 4
    assert [r["id"] for r in read_samples(p)] == [f"f/s/t/{i}" for i in range(4)]
    assert write_samples(p, iter(())) == 0 and p.read_bytes() == b""
