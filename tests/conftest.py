"""Fixtures shared by every test directory.

`sim_scenes`: a few tiny scenes rendered once per test session by the real simulator
(`qa4d simulate`), for end-to-end tests of whatever consumes scenes. Skips when the simulator
is not importable. Tests must treat the directory as read-only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SIM_SCENES = 4
SIM_FRAMES = 16
SIM_SIZE = 64
SIM_SEED = 0


@pytest.fixture(scope="session")
def sim_scenes(tmp_path_factory) -> Path:
    """Directory with SIM_SCENES simulated scenes (SIM_FRAMES frames of SIM_SIZE px, seed SIM_SEED)."""
    if importlib.util.find_spec("qa4d.sources.sim.cli") is None:
        pytest.skip("the simulator (qa4d.sources.sim) is not available")
    from qa4d.cli import main

    out = tmp_path_factory.mktemp("sim_scenes")
    code = main(["simulate", "--out", str(out), "--scenes", str(SIM_SCENES), "--frames", str(SIM_FRAMES),
                 "--size", str(SIM_SIZE), "--seed", str(SIM_SEED)])
    if code != 0:
        pytest.fail(f"qa4d simulate exited with {code}")
    return out
