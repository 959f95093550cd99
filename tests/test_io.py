"""qa4d._io, the one atomic write: content, failure cleanup, stale temporaries, and the umask of
every file the verbs write (through real processes run under umask 022 and 002)."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import qa4d
from qa4d._io import (
    atomic_file,
    copy_file_atomic,
    make_temp_dir,
    remove_stale_temporaries,
    symlink_atomic,
    write_bytes_atomic,
)

SRC = str(Path(qa4d.__file__).resolve().parent.parent)


def test_write_replaces_whole_and_leaves_nothing_beside(tmp_path):
    p = tmp_path / "sub" / "f.bin"
    write_bytes_atomic(p, b"old")
    write_bytes_atomic(p, b"new content")
    assert p.read_bytes() == b"new content"
    assert sorted(x.name for x in p.parent.iterdir()) == ["f.bin"]


@pytest.mark.parametrize("exc", [KeyboardInterrupt(), OSError(errno.ENOSPC, "No space left on device")])
def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path, exc):
    p = tmp_path / "f.json"
    p.write_text("old")
    with pytest.raises(type(exc)) as info:
        with atomic_file(p) as f:
            f.write(b"half")
            raise exc
    assert p.read_text() == "old" and sorted(x.name for x in tmp_path.iterdir()) == ["f.json"]
    if isinstance(exc, OSError):
        assert info.value.filename == str(p)  # the one-line message can name the file


def test_copy_and_symlink(tmp_path):
    src = tmp_path / "a.jpg"
    src.write_bytes(bytes(range(256)) * 4000)
    copy_file_atomic(src, tmp_path / "out" / "b.jpg")
    assert (tmp_path / "out" / "b.jpg").read_bytes() == src.read_bytes()
    symlink_atomic(src, tmp_path / "out" / "c.jpg")
    symlink_atomic(src, tmp_path / "out" / "c.jpg")  # again: replaced, not an error
    assert os.readlink(tmp_path / "out" / "c.jpg") == str(src)
    assert sorted(x.name for x in (tmp_path / "out").iterdir()) == ["b.jpg", "c.jpg"]


def test_remove_stale_temporaries_removes_only_ours_and_stays_inside_root(tmp_path):
    root = tmp_path / "root"
    (root / "m").mkdir(parents=True)
    ours = [root / ".a.json.x1.tmp", root / "m" / ".b.jpg.y2.tmp"]
    for p in ours:
        p.write_text("x")
    d = make_temp_dir(root / "scene")
    (d / "frames").mkdir()
    (d / "frames" / "0.png").write_text("x")
    kept = [root / "notes.tmp", root / "m" / "a.jpg", root / ".hidden"]
    for p in kept:
        p.write_text("keep")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / ".c.tmp").write_text("not under root")
    (root / "link").symlink_to(outside, target_is_directory=True)
    assert remove_stale_temporaries(root) == 3
    assert not any(p.exists() for p in ours) and not d.exists()
    assert all(p.read_text() == "keep" for p in kept)
    assert (outside / ".c.tmp").exists()
    assert remove_stale_temporaries(tmp_path / "missing") == 0


PIPELINE = """
set -e
q="{py} -m qa4d.cli"
$q simulate --out {d}/scenes --scenes 2 --frames 8 --size 32 --tracks-per-object 8 --background-tracks 8 2>/dev/null
$q generate --scenes {d}/scenes --out {d}/ds --segment-frames 8 --media-frames 2 2>/dev/null
$q export {d}/ds --format llava --media copy --out {d}/llava >/dev/null 2>&1
$q eval --benchmark {d}/ds/bench --model random --out {d}/run >/dev/null 2>&1
$q score --benchmark qa4d --annotations {d}/ds/bench --predictions {d}/run/predictions.jsonl --out {d}/score >/dev/null 2>&1
$q report {d}/run {d}/score --out {d}/report >/dev/null 2>&1
$q export-lmms-eval {d}/ds/bench --out {d}/lmms >/dev/null 2>&1
$q card {d}/ds --out {d}/card >/dev/null 2>&1
$q view {d}/ds --out {d}/view >/dev/null 2>&1
"""


@pytest.mark.parametrize("umask", [0o022, 0o002])
def test_every_output_respects_the_umask(tmp_path, umask):
    """simulate, generate, export (copied media), eval, score, report, export-lmms-eval, card and view run under
    `umask`: every file they write has mode 0666 & ~umask, every directory 0777 & ~umask."""
    env = dict(os.environ, PYTHONPATH=SRC)
    env.pop("QA4D_DEBUG", None)
    proc = subprocess.run(["sh", "-c", PIPELINE.format(py=sys.executable, d=tmp_path)], env=env,
                          capture_output=True, text=True, umask=umask, timeout=900)
    assert proc.returncode == 0, proc.stderr
    outs = ["scenes", "ds", "llava", "run", "score", "report", "lmms", "card", "view"]
    checked = {"file": 0, "dir": 0}
    wrong = []
    for name in outs:
        for p in [tmp_path / name, *(tmp_path / name).rglob("*")]:
            mode = p.lstat().st_mode
            if stat.S_ISDIR(mode):
                want, kind = 0o777 & ~umask, "dir"
            elif stat.S_ISREG(mode):
                want, kind = 0o666 & ~umask, "file"
            else:
                continue
            checked[kind] += 1
            if stat.S_IMODE(mode) != want:
                wrong.append(f"{p.relative_to(tmp_path)}: {stat.S_IMODE(mode):o} (want {want:o})")
    assert not wrong, wrong[:10]
    for must in ["run/metrics.json", "run/predictions.jsonl", "score/metrics.json", "score/scored.jsonl",
                 "ds/dataset.json", "scenes/sim0_00000/arrays.npz", "report/report.html"]:
        assert stat.S_IMODE((tmp_path / must).stat().st_mode) == 0o666 & ~umask, must
    assert checked["file"] > 50 and checked["dir"] > 5
