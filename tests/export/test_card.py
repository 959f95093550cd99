"""The dataset card: its numbers agree with the records, its plots are real images."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from qa4d.cli import main as qa4d_main
from qa4d.export.card import write_card


def sections(md: str) -> dict[str, str]:
    """Heading text -> body, for '## ' to '#### ' headings."""
    parts = re.split(r"^#{2,4} (.+)$", md, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def table(body: str) -> list[dict[str, str]]:
    """The first Markdown table of a section, as dicts keyed by header."""
    rows = [line for line in body.splitlines() if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in r.strip("|").split("|")))) for r in rows[2:]]


def label_of(rec) -> str:
    lab = rec["meta"]["label"]  # a canonical key: 'right+pan_left', 'move=forward,turn=left'
    if "=" in lab:
        return " + ".join(f"{k} {v}" for k, v in (p.split("=") for p in lab.split(",")))
    return " + ".join(lab.split("+"))


def test_card_counts_match_the_data(dataset):
    root, records = dataset
    card, plots, errors = write_card(root)
    assert errors == [] and card == root / "CARD.md"
    sec = sections(card.read_text())
    allrecs = [(s, r) for s, rs in records.items() for r in rs]

    total = len(allrecs)
    assert card.read_text().splitlines()[2].startswith(f"{total} question-answer samples (train {len(records['train'])}, bench {len(records['bench'])})")

    rows = {r["split"]: r for r in table(sec["Counts per split"])}
    for s, rs in records.items():
        assert int(rows[s]["samples"]) == len(rs)
        assert int(rows[s]["scenes"]) == len({r["scene_id"] for r in rs})
        assert int(rows[s]["media files"]) == len({m for r in rs for m in r["media"]})

    for heading, key in (("Counts per task", "task"), ("4dpqa: categories", "category"), ("Answer formats", "answer_format")):
        col = {"Answer formats": "answer format"}.get(heading, key)
        got = {r[col]: r for r in table(sec[heading])}
        name = (lambda r: f"{r['family']}/{r['task']}") if key == "task" else (lambda r: r[key])  # noqa: E731
        want = Counter((name(r), s) for s, r in allrecs)
        assert set(got) == {k for k, _ in want}
        for k, row in got.items():
            for s in ("train", "bench"):
                assert int(row[s]) == want[k, s], (heading, k, s)
            assert int(row["total"]) == want[k, "train"] + want[k, "bench"]
    task_cat = {f"4dpqa/{r['task']}": r["category"] for _, r in allrecs}
    assert {r["task"]: r["category"] for r in table(sec["Counts per task"])} == task_cat

    for task in ("camera_movement", "object_object_distance_change"):
        got = {r["label"]: r for r in table(sec[f"4dpqa/{task}: label"])}
        want = Counter((label_of(r), s) for s, r in allrecs if r["task"] == task)
        assert set(got) == {k for k, _ in want}
        for lab, row in got.items():
            assert (int(row["train"]), int(row["bench"])) == (want[lab, "train"], want[lab, "bench"])

    mc_tasks = {r["task"] for _, r in allrecs if r["answer_format"] == "mc"}
    assert {h.split("/")[1][: -len(": correct letter")] for h in sec if h.endswith(": correct letter")} == mc_tasks
    for task in mc_tasks:
        rows = {r["correct letter"]: r for r in table(sec[f"4dpqa/{task}: correct letter"])}
        want = Counter((r["answer"], s) for s, r in allrecs if r["task"] == task)
        assert {(k, s): int(row[s]) for k, row in rows.items() for s in ("train", "bench")} == {
            (k, s): want[k, s] for k in rows for s in ("train", "bench")}
        assert sum(int(row["total"]) for row in rows.values()) == sum(want.values())
    yn = {r["yes/no"]: r for r in table(sec["4dpqa/object_object_distance_change: yes/no"])}
    want = Counter((r["answer"], s) for s, r in allrecs if r["answer_format"] == "yesno")
    assert {(a, s): int(yn[a][s]) for a in ("yes", "no") for s in ("train", "bench")} == {
        (a, s): want[a, s] for a in ("yes", "no") for s in ("train", "bench")}

    meas = {r["task"]: r for r in table(sec["4dpqa: measurements"])}
    depth = [r["meta"]["measurement"] for _, r in allrecs if r["task"] == "depth"]
    assert int(meas["depth"]["n"]) == len(depth)
    assert float(meas["depth"]["min"]) == float(f"{min(depth):.4g}")
    assert float(meas["depth"]["max"]) == float(f"{max(depth):.4g}")
    # list-valued measurements (camera motion vectors, tracks) are not histogrammed
    assert "camera_movement" not in meas and "true_motion_point_tracking" not in meas


def test_card_plots_are_real_images(dataset):
    root, _ = dataset
    card, plots, _ = write_card(root)
    text = card.read_text()
    refs = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert sorted(refs) == sorted(f"card/{p.name}" for p in plots)
    assert {p.name for p in plots} == {"counts.png", "4dpqa_labels.png", "4dpqa_answers.png"}
    for ref in refs:
        path = root / ref
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG"
            a = np.asarray(im.convert("RGB"))
        assert a.shape[0] > 150 and a.shape[1] > 300
        non_white = (a < 240).any(axis=2).mean()
        assert 0.02 < non_white < 0.9, (ref, non_white)
        assert len(np.unique(a.reshape(-1, 3), axis=0)) > 20  # bars, text, axes: not a flat image


def test_card_is_deterministic_and_honours_out(dataset, tmp_path):
    root, _ = dataset
    out = tmp_path / "cardout"
    assert qa4d_main(["card", str(root), "--out", str(out)]) == 0
    first = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert not (root / "CARD.md").exists()
    assert qa4d_main(["card", str(root), "--out", str(out)]) == 0
    second = {p.relative_to(out): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    assert first == second and Path("CARD.md") in first and len(first) == 4


def test_card_reports_bad_records_and_shared_scenes(dataset, capsys):
    root, records = dataset
    p = root / "bench" / "samples.jsonl"
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    recs[0]["scene_id"] = records["train"][0]["scene_id"]  # leak a train scene into bench
    recs[1]["task"] = 7  # malformed
    p.write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert qa4d_main(["card", str(root)]) == 1
    assert "bench/samples.jsonl:2" in capsys.readouterr().err
    text = (root / "CARD.md").read_text()
    assert "1 malformed record(s) were left out" in text
    assert f"1 scene(s) appear in more than one split: {records['train'][0]['scene_id']}" in text
    rows = {r["split"]: r for r in table(sections(text)["Counts per split"])}
    assert int(rows["bench"]["samples"]) == len(recs) - 1


def test_label_text_reads_every_label_shape():
    from qa4d.export.card_stats import label_text

    assert label_text(["right", "pan_left"]) == "right + pan_left"
    assert label_text({"move": "backward", "turn": "left"}) == "move backward + turn left"
    assert label_text("increasing") == "increasing"
    assert label_text("right+pan_left") == "right + pan_left"  # canonical keys, as records store them
    assert label_text("move=backward,turn=left") == "move backward + turn left"
    # a free-text label with '=' but not made of key=value pairs is shown as it is (it crashed)
    assert label_text("a=b,c") == "a=b,c"
