"""Every trainer export on a dataset with all six families: image sets (Image-1, Image-2) and the
Set-of-Marks prefix image reach the conversation in media order with one placeholder each, and
numeric answers keep their asked form (the value in backticks)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa4d.export.cli import export_dataset
from tests.export import families_data as fd
from tests.export.test_formats import FORMATS, load_rows, turns


@pytest.fixture(scope="module")
def fam_root(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("fam") / "ds"
    return root, fd.build_family_dataset(root)


def _image_lines(user: str) -> list[str]:
    return [line for line in user.split("\n") if "<image>" in line]


@pytest.mark.parametrize("fmt", FORMATS)
def test_image_sets_and_prefix_images_in_order(fam_root, tmp_path, fmt):
    root, records = fam_root
    out = tmp_path / fmt
    res = export_dataset(root, fmt, out, split="all")
    assert res.errors == [] and res.counts == {s: len(r) for s, r in records.items()}
    for split, recs in records.items():
        rows = {r["id"]: r for r in load_rows(out, fmt, split)}
        assert set(rows) == {r["id"] for r in recs}
        for rec in recs:
            row = rows[rec["id"]]
            user, assistant, images = turns(row, fmt)
            # images in media order, absolute paths into the dataset
            assert images == [str((root / m).resolve()) for m in rec["media"]]
            lines = _image_lines(user)
            assert len(lines) == len(rec["media"]) and user.count("<image>") == len(rec["media"])
            assert user.split("\n")[: len(lines)] == lines  # the images come before the question
            meta = rec["meta"]
            if meta.get("media_kind") == "images":
                assert lines == [f"Image-{k + 1}: <image>" for k in range(len(rec["media"]))]
                assert "Image-1" in user.split("\n")[len(lines)]  # the question names them so
            elif "som_image" in meta:
                assert rec["media"][0] == meta["som_image"] and images[0].endswith(meta["som_image"])
                assert lines == ["Frame 1 (numbered marks): <image>"] + [f"Frame {k + 1}: <image>" for k in range(1, len(rec["media"]))]
            else:
                assert lines == [f"Frame {k + 1}: <image>" for k in range(len(rec["media"]))]
            if fmt == "qwen":  # typed parts: the label text, then its image, in media order
                parts = row["messages"][0]["content"]
                imgs = [p["image"] for p in parts if p["type"] == "image"]
                assert imgs == images
                labels = [parts[i - 1]["text"] for i, p in enumerate(parts) if p["type"] == "image"]
                assert labels == [line.replace(" <image>", "") for line in lines]
            # numeric answers in their asked form; multiple choice as the letter the instruction asks for
            if rec["answer_format"] in ("scalar", "vector", "coord"):
                v = meta["value"]
                want = f"`[{', '.join(str(x) for x in v)}]`" if isinstance(v, list) else f"`{v}`"
                assert assistant == want == rec["answer"]
                assert user.split("\n")[-1].endswith("inside backticks: `N`." if rec["answer_format"] == "scalar" else "`.")
            elif rec["answer_format"] == "mc":
                assert assistant == rec["answer"] and assistant in rec["options"]
            if rec["family"] == "timebench":
                # the clip's times are not in the prompt (they would give the answer away)
                assert not re.search(r"\d+\.\d+ s", "\n".join(lines))
