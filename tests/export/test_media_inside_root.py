"""export and view never read a media file outside the dataset: a record whose media path leads out
(here through a symlink; absolute and '..' paths are refused by the record schema) is reported by
id and left out, and the other records are handled as usual."""

import os

from qa4d.cli import main as qa4d_main
from qa4d.export.cli import export_dataset


def _link_out(root, rec, tmp_path):
    """Replace the record's first image with a symlink to a file outside the dataset."""
    secret = tmp_path / "secret.png"
    secret.write_bytes((root / rec["media"][0]).read_bytes())
    (root / rec["media"][0]).unlink()
    os.symlink(secret, root / rec["media"][0])
    return secret


def test_export_leaves_out_a_record_with_media_outside(dataset, tmp_path):
    root, records = dataset
    bad = records["bench"][0]
    _link_out(root, bad, tmp_path)
    res = export_dataset(root, "sharegpt", tmp_path / "o", split="bench", media="copy")
    errs = [e for e in res.errors if bad["id"] in e]
    assert errs and "outside" in errs[0]
    others = {m for r in records["bench"] if r["id"] != bad["id"] for m in r["media"]}
    assert res.counts["bench"] == sum(1 for r in records["bench"] if bad["media"][0] not in r["media"])
    copied = {p.relative_to(tmp_path / "o" / "media").as_posix() for p in (tmp_path / "o" / "media").rglob("*") if p.is_file()}
    assert bad["media"][0] not in copied and copied <= others


def test_view_reports_media_outside_and_does_not_link_it(dataset, tmp_path, capsys):
    root, records = dataset
    bad = records["train"][0]
    secret = _link_out(root, bad, tmp_path)
    assert qa4d_main(["view", str(root), "--split", "train"]) == 1
    err = capsys.readouterr().err
    assert bad["id"] in err and "outside" in err
    page = "".join(p.read_text() for p in root.rglob("*.html"))
    assert page and str(secret) not in page and "secret.png" not in page
