"""Bench test fixtures: a dataset generated from simulated toy scenes, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def generated(tmp_path_factory) -> Path:
    """A dataset generated from eight toy scenes with known motion (tests/engine/toy.py; seed 0,
    half the scenes on bench, 6 images per sample): all 13 tasks; bench holds mc, yes/no and point
    tracks, train adds free text. Read-only."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate
    from tests.engine import toy

    root = tmp_path_factory.mktemp("generated")
    for spec in toy.varied_scenes(8, seed=0, frames=12, size=64):
        toy.build(spec, root / "scenes")
    generate(GenerateConfig(scenes=str(root / "scenes"), out=str(root / "ds"), seed=0, bench_fraction=0.5,
                            media_frames=6), log=lambda m: None)
    return root / "ds"
