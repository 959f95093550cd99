"""Families generated together stay apart: two families with tasks of the same name (vlm4d and r4d
both have counting, rotational, false_positive, translational) share candidate uids, and a family's
records must be exactly those it gets when generated alone."""

from __future__ import annotations

import subprocess
import sys

import pytest

from qa4d.dataset import read_samples


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa4d.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    root = tmp_path_factory.mktemp("apart")
    r = cli("simulate", "--out", str(root / "scenes"), "--scenes", "4", "--frames", "32", "--size", "64",
            "--seed", "0", "--kinds", "mixed", "spinning")
    assert r.returncode == 0, r.stderr
    return root


def _records(ds, family):
    return [rec for s in ("train", "bench") if (ds / s / "samples.jsonl").exists()
            for rec in read_samples(ds / s / "samples.jsonl") if rec["family"] == family]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_family_generated_with_another_gives_its_records_alone(scenes, workers):
    outs = {}
    for name, fams in (("both", ["vlm4d", "r4d"]), ("vlm4d", ["vlm4d"]), ("r4d", ["r4d"])):
        out = scenes / f"{name}-{workers}"
        r = cli("generate", "--scenes", str(scenes / "scenes"), "--out", str(out), "--seed", "0",
                "--bench-fraction", "0.3", "--workers", workers, "--families", *fams)
        assert r.returncode == 0, r.stderr
        outs[name] = out
    shared = {t for t in ("counting", "rotational", "false_positive", "translational")}
    both_v, both_r = _records(outs["both"], "vlm4d"), _records(outs["both"], "r4d")
    assert {r["task"] for r in both_v} & {r["task"] for r in both_r} & shared, "no shared task name was made"
    assert both_v == _records(outs["vlm4d"], "vlm4d")
    assert both_r == _records(outs["r4d"], "r4d")
    assert not any(ref.get("mode") == "mark" for r in both_v for ref in r["meta"].get("refs", []))
