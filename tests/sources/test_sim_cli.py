"""`qa4d simulate`: same seed same bytes, workers, resume, failures reported."""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path

import pytest

from qa4d.scene.validate import validate_scene
from qa4d.sources.sim import cli as sim_cli
from qa4d.sources.sim import simulate as sim
from qa4d.sources.sim.simulate import SimOptions, run_simulation

OPTS = SimOptions(num_frames=6, size=64, tracks_per_object=64, background_tracks=128)


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _args(out: Path, **kw) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sim_cli.add_arguments(parser)
    argv = ["--out", str(out), "--scenes", "2", "--frames", "6", "--size", "64", "--seed", "5"]
    argv += ["--tracks-per-object", "64", "--background-tracks", "128"]
    for k, v in kw.items():
        argv += [f"--{k}", str(v)]
    return parser.parse_args(argv)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run1")
    assert sim_cli.run(_args(out)) == 0
    return out


def test_cli_writes_valid_scenes_named_from_seed(first_run):
    dirs = sorted(p.name for p in first_run.iterdir())
    assert dirs == ["sim5_00000", "sim5_00001"]
    for d in dirs:
        assert validate_scene(first_run / d) == []
        files = _digest(first_run / d)
        assert {"scene.json", "arrays.npz"} <= set(files) and sum(f.startswith("frames/") for f in files) == 6


def test_same_seed_gives_same_bytes_and_workers_do_not_matter(first_run, tmp_path):
    again, parallel = tmp_path / "again", tmp_path / "parallel"
    assert sim_cli.run(_args(again)) == 0
    assert sim_cli.run(_args(parallel, workers=2)) == 0
    ref = _digest(first_run)
    assert _digest(again) == ref
    assert _digest(parallel) == ref
    other = tmp_path / "other"
    assert sim_cli.run(_args(other, seed=6, scenes=1)) == 0
    a = (first_run / "sim5_00000" / "arrays.npz").read_bytes()
    assert (other / "sim6_00000" / "arrays.npz").read_bytes() != a


def test_resume_skips_complete_scenes_and_redoes_missing_ones(tmp_path):
    report = run_simulation(tmp_path, 2, 3, OPTS, progress=False)
    assert report.written == [0, 1]
    keep = tmp_path / "sim3_00000" / "arrays.npz"
    mtime = keep.stat().st_mtime_ns
    shutil.rmtree(tmp_path / "sim3_00001")
    (tmp_path / ".sim3_00001.leftover").mkdir()  # an interrupted write leaves only a hidden temp dir
    report = run_simulation(tmp_path, 3, 3, OPTS, progress=False)
    assert report.skipped == [0] and report.written == [1, 2] and not report.failed
    assert keep.stat().st_mtime_ns == mtime
    assert not (tmp_path / ".sim3_00001.leftover").exists()
    # different settings are not "complete": the scene is regenerated
    other = SimOptions(num_frames=5, size=64, tracks_per_object=8, background_tracks=8)
    report = run_simulation(tmp_path, 1, 3, other, progress=False)
    assert report.written == [0]


def test_failing_scene_is_reported_and_the_rest_are_written(tmp_path, monkeypatch, capsys):
    real = sim.simulate_scene

    def flaky(out_dir, seed, index, opts):
        if index == 1:
            raise RuntimeError("boom in scene one")
        return real(out_dir, seed, index, opts)

    monkeypatch.setattr(sim, "simulate_scene", flaky)
    code = sim_cli.run(_args(tmp_path, scenes=3))
    assert code == 1
    err = capsys.readouterr().err
    assert "sim5_00001" in err and "boom in scene one" in err
    assert (tmp_path / "sim5_00000" / "scene.json").exists() and (tmp_path / "sim5_00002" / "scene.json").exists()
    assert not (tmp_path / "sim5_00001").exists()


def test_bad_arguments_are_rejected(tmp_path, capsys):
    assert sim_cli.run(_args(tmp_path, frames=0)) == 2
    assert "--frames" in capsys.readouterr().err
