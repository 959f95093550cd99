"""Training exports: each format's layout, placeholder checks, registry files, and a round trip
(re-read the export and recover every question, option, answer and image)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from qa4d.cli import main as qa4d_main
from qa4d.export.cli import export_dataset
from qa4d.export.formats import EXPORTERS, available_formats, get_exporter
from qa4d.answers.forms import record_form
from qa4d.export.records import render_answer, render_prompt
from qa4d.dataset import RecordError, iter_splits, read_samples

FORMATS = ["llava", "sharegpt", "llamafactory", "qwen", "internvl"]
OPTION_RE = re.compile(r"^([A-Z])\. (.*)$")


# -- reading each format back, independently of the exporters ----------------------------------


def load_rows(out: Path, fmt: str, split: str) -> list[dict[str, Any]]:
    if fmt in ("llava", "llamafactory"):
        data = json.loads((out / f"qa4d_{split}.json").read_text())
        assert isinstance(data, list)
        return data
    lines = (out / f"qa4d_{split}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def turns(row: dict[str, Any], fmt: str) -> tuple[str, str, list[str]]:
    """(user text, assistant text, images) of one row, read the way the trainer reads it."""
    if fmt in ("llava", "qwen", "internvl"):
        conv = row["conversations"]
        assert [t["from"] for t in conv] == ["human", "gpt"]
        image = row.get("image", [])
        images = [image] if isinstance(image, str) else image
        return conv[0]["value"], conv[1]["value"], images
    msgs = row["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant"]
    return msgs[0]["content"], msgs[1]["content"], row["images"]


def parse_user(text: str) -> tuple[int, str, dict[str, str] | None, str]:
    """(image placeholders, question, options, instruction) from a user turn."""
    lines = text.split("\n")
    n_img = sum(line.count("<image>") for line in lines)
    body = [line for line in lines if "<image>" not in line]
    question, rest = body[0], body[1:]
    options = {}
    while rest and OPTION_RE.match(rest[0]):
        m = OPTION_RE.match(rest.pop(0))
        options[m.group(1)] = m.group(2)
    assert len(rest) == 1, f"expected one instruction line after the options, got {rest}"
    return n_img, question, options or None, rest[0]


def recovered_answer(assistant: str, fmt_answer: str, options: dict[str, str] | None) -> str:
    if fmt_answer == "mc":
        # the letter alone, as the instruction asks; it names one of the options shown
        assert assistant in options, assistant
    return assistant


# -- layouts and round trip ------------------------------------------------------------------


def test_registry_lists_the_five_formats():
    assert set(FORMATS) <= set(available_formats())
    with pytest.raises(KeyError, match="unknown export format 'nope'"):
        get_exporter("nope")
    for name in FORMATS:
        assert EXPORTERS[name].name == name


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_recovers_every_record(dataset, tmp_path, fmt):
    root, records = dataset
    out = tmp_path / f"out_{fmt}"
    res = export_dataset(root, fmt, out, split="all")
    assert res.errors == []
    for split, recs in records.items():
        rows = load_rows(out, fmt, split)
        assert len(rows) == len(recs) == res.counts[split]
        for rec, row in zip(recs, rows):
            assert row["id"] == rec["id"]
            user, assistant, images = turns(row, fmt)
            n_img, question, options, instruction = parse_user(user)
            assert n_img == len(images) == len(rec["media"])
            assert question == rec["question"]
            assert options == rec["options"]
            # the answer-format registry's instruction, the line `qa4d eval` shows for the record
            assert instruction == record_form(rec, "do").instruction
            assert recovered_answer(assistant, rec["answer_format"], options) == rec["answer"]
            # absolute media by default: the very files of the dataset, in the model's order
            assert images == [str((root / m).resolve()) for m in rec["media"]]
            assert all(os.path.isabs(p) and Path(p).is_file() for p in images)


def test_llava_layout(dataset, tmp_path):
    root, records = dataset
    export_dataset(root, "llava", tmp_path / "o", split="train")
    rows = json.loads((tmp_path / "o" / "qa4d_train.json").read_text())
    assert not (tmp_path / "o" / "qa4d_bench.json").exists()  # default split is train
    for row in rows:
        assert set(row) == {"id", "image", "conversations"}
        assert isinstance(row["image"], list)
        human = row["conversations"][0]["value"]
        # one labelled placeholder line per image, numbered as the questions number frames
        n = len(row["image"])
        assert human.split("\n")[:n] == [f"Frame {k}: <image>" for k in range(1, n + 1)]


def test_sharegpt_layout(dataset, tmp_path):
    root, _ = dataset
    export_dataset(root, "sharegpt", tmp_path / "o", split="bench")
    for line in (tmp_path / "o" / "qa4d_bench.jsonl").read_text().splitlines():
        row = json.loads(line)
        assert set(row) == {"id", "messages", "images"}
        assert all(set(m) == {"role", "content"} for m in row["messages"])
        assert row["messages"][0]["content"].count("<image>") == len(row["images"])


def test_llamafactory_dataset_info_entry_and_merge(dataset, tmp_path):
    root, records = dataset
    out = tmp_path / "o"
    export_dataset(root, "llamafactory", out, split="train")
    export_dataset(root, "llamafactory", out, split="bench")  # second export keeps the first entry
    info = json.loads((out / "dataset_info.json").read_text())
    assert list(info) == ["qa4d_train", "qa4d_bench"]
    for split in ("train", "bench"):
        entry = info[f"qa4d_{split}"]
        assert entry == {
            "file_name": f"qa4d_{split}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "images": "images"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
        rows = json.loads((out / entry["file_name"]).read_text())
        assert len(rows) == len(records[split])
        tags = entry["tags"]
        for row in rows:
            msgs = row[entry["columns"]["messages"]]
            assert msgs[0][tags["role_tag"]] == tags["user_tag"] and msgs[1][tags["role_tag"]] == tags["assistant_tag"]
            assert msgs[0][tags["content_tag"]].count("<image>") == len(row[entry["columns"]["images"]])


def test_qwen_layout_both_views_agree(dataset, tmp_path):
    root, records = dataset
    export_dataset(root, "qwen", tmp_path / "o", split="train")
    for rec, line in zip(records["train"], (tmp_path / "o" / "qa4d_train.jsonl").read_text().splitlines()):
        row = json.loads(line)
        parts = row["messages"][0]["content"]
        want = []
        for k, path in enumerate(row["image"], 1):
            want += [{"type": "text", "text": f"Frame {k}:"}, {"type": "image", "image": path}]
        want.append({"type": "text", "text": render_prompt(rec)})
        assert parts == want
        assert row["messages"][1]["content"] == [{"type": "text", "text": render_answer(rec)}]
        # what qwen-vl-finetune derives from `conversations`: split on <image>, strip text pieces
        segs = [s.strip() for s in re.split(r"(<image>)", row["conversations"][0]["value"]) if s.strip()]
        assert segs == [p["text"] if p["type"] == "text" else "<image>" for p in parts]


def test_internvl_layout_and_meta(dataset, tmp_path):
    root, records = dataset
    out = tmp_path / "o"
    export_dataset(root, "internvl", out, split="all", media="copy")
    for split, recs in records.items():
        meta = json.loads((out / f"qa4d_{split}_meta.json").read_text())
        assert list(meta) == [f"qa4d_{split}"]
        m = meta[f"qa4d_{split}"]
        assert set(m) == {"root", "annotation", "data_augment", "repeat_time", "length"}
        assert m["length"] == len(recs) and m["repeat_time"] == 1 and m["data_augment"] is False
        rows = [json.loads(x) for x in Path(m["annotation"]).read_text().splitlines()]
        assert len(rows) == m["length"]
        for rec, row in zip(recs, rows):
            human = row["conversations"][0]["value"]
            n = len(rec["media"])
            assert human.split("\n")[:n] == [f"Frame {k}: <image>" for k in range(1, n + 1)]
            if n == 1:
                assert isinstance(row["image"], str)
                paths = [row["image"]]
            else:
                assert isinstance(row["image"], list)
                paths = row["image"]
            # InternVL joins root with each image path; copied media are byte-identical
            for p, src in zip(paths, rec["media"]):
                assert not os.path.isabs(p)
                assert (Path(m["root"]) / p).read_bytes() == (root / src).read_bytes()


def test_symlink_media_resolve_to_dataset_files(dataset, tmp_path):
    root, records = dataset
    out = tmp_path / "o"
    export_dataset(root, "sharegpt", out, split="train", media="symlink")
    row = json.loads((out / "qa4d_train.jsonl").read_text().splitlines()[0])
    for p, src in zip(row["images"], records["train"][0]["media"]):
        assert (out / p).is_symlink()
        assert (out / p).resolve() == (root / src).resolve()


def test_export_is_deterministic(dataset, tmp_path):
    root, _ = dataset
    for k in (1, 2):
        export_dataset(root, "qwen", tmp_path / "o", split="all")
        data = (tmp_path / "o" / "qa4d_train.jsonl").read_bytes()
        if k == 1:
            first = data
    assert data == first


# -- errors ----------------------------------------------------------------------------------


def _rewrite(root: Path, split: str, fn) -> None:
    p = root / split / "samples.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    fn(recs)
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))


def test_placeholder_mismatch_names_the_record(dataset, tmp_path, capsys):
    root, records = dataset
    bad_id = records["train"][2]["id"]

    def inject(recs):
        recs[2]["question"] = "Look at <image> closely. " + recs[2]["question"]

    _rewrite(root, "train", inject)
    out = tmp_path / "o"
    for fmt in FORMATS:
        res = export_dataset(root, fmt, out / fmt, split="train")
        assert len(res.errors) == 1 and bad_id in res.errors[0], (fmt, res.errors)
        assert res.counts["train"] == len(records["train"]) - 1  # the rest is still written
    rc = qa4d_main(["export", str(root), "--format", "llava", "--out", str(out / "cli")])
    assert rc == 1
    err = capsys.readouterr().err
    assert bad_id in err and "placeholders" in err


def test_missing_media_names_record_and_file(dataset, tmp_path):
    root, records = dataset
    rec = records["bench"][0]
    (root / rec["media"][0]).unlink()
    res = export_dataset(root, "internvl", tmp_path / "o", split="bench")
    assert any(rec["id"] in e and rec["media"][0] in e for e in res.errors)


def test_malformed_records_report_file_line_and_field(dataset, tmp_path):
    root, _ = dataset
    p = root / "train" / "samples.jsonl"
    lines = p.read_text().splitlines()
    r = json.loads(lines[1])
    r["answer_format"] = "essay"
    lines[1] = json.dumps(r)
    r = json.loads(lines[3])
    del r["meta"]["measurement"]
    lines[3] = json.dumps(r)
    lines[4] = lines[4][:-5]  # truncated JSON
    p.write_text("\n".join(lines) + "\n")

    with pytest.raises(RecordError) as ei:
        read_samples(p)
    assert ei.value.line == 2 and ei.value.field == "answer_format"
    assert f"{p}:2" in str(ei.value) and "'answer_format'" in str(ei.value)

    errors: list[RecordError] = []
    good = read_samples(p, errors)
    assert [(e.line, e.field) for e in errors] == [(2, "answer_format"), (4, "meta.measurement"), (5, "<line>")]
    assert len(good) == len(lines) - 3
    assert "not valid JSON" in str(errors[2])


def test_cross_field_checks(dataset):
    root, _ = dataset
    _rewrite(root, "train", lambda recs: recs[0].update(answer="E"))
    with pytest.raises(RecordError, match=r"samples.jsonl:1 .*field 'answer': 'E' is not one of the options"):
        read_samples(root / "train" / "samples.jsonl")
    _rewrite(root, "bench", lambda recs: recs[0]["timestamps"].pop())
    with pytest.raises(RecordError, match="field 'timestamps': has 3 items but media has 4"):
        read_samples(root / "bench" / "samples.jsonl")


def test_iter_splits(dataset, tmp_path):
    root, _ = dataset
    assert [s.name for s in iter_splits(root)] == ["train", "bench"]
    (root / "bench" / "samples.jsonl").unlink()
    assert [s.name for s in iter_splits(root)] == ["train"]
    with pytest.raises(ValueError, match="bench"):
        list(iter_splits(root, "bench"))
    rc = qa4d_main(["export", str(root), "--format", "llava", "--out", str(tmp_path / "x"), "--split", "bench"])
    assert rc == 2


def test_render_prompt_and_answer_formats(dataset):
    _, records = dataset
    by_fmt = {r["answer_format"]: r for r in records["train"]}
    mc = by_fmt["mc"]
    lines = render_prompt(mc).split("\n")
    letters = sorted(mc["options"])
    assert lines[1 : 1 + len(letters)] == [f"{k}. {mc['options'][k]}" for k in letters]
    # the letter alone: what the instruction under the options asks for (Direct Output)
    assert render_answer(mc) == mc["answer"] and mc["answer"] in letters
    for fmt in ("yesno", "free", "track"):
        assert render_answer(by_fmt[fmt]) == by_fmt[fmt]["answer"]
        assert render_prompt(by_fmt[fmt]).endswith("\n" + record_form(by_fmt[fmt], "do").instruction)
