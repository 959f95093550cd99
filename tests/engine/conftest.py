"""Engine test fixtures: hand-built toy scenes on disk (see toy.py), built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine import toy


@pytest.fixture(scope="session")
def toy_scenes(tmp_path_factory) -> Path:
    """Eight varied toy scenes (random camera and object motion), 12 frames of 64 px."""
    root = tmp_path_factory.mktemp("toy_scenes")
    for spec in toy.varied_scenes(8, seed=0, frames=12, size=64):
        toy.build(spec, root)
    return root


@pytest.fixture(scope="session")
def toy_dataset(toy_scenes, tmp_path_factory) -> Path:
    """A dataset generated from `toy_scenes` (seed 0, half the scenes on bench). Read-only."""
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate

    out = tmp_path_factory.mktemp("toy_ds") / "ds"
    generate(GenerateConfig(scenes=str(toy_scenes), out=str(out), seed=0, bench_fraction=0.5, media_frames=6),
             log=lambda m: None)
    return out
