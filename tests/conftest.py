"""Fixtures shared by every test directory.

`sim_scenes`: a few tiny scenes rendered once per test session by the real simulator
(`qa4d simulate`), for end-to-end tests of whatever consumes scenes. Skips when the simulator
is not importable. Tests must treat the directory as read-only.

`ray_cluster`: a local Ray with 2 CPUs per test module, its GCS address for processes that join it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
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


@pytest.fixture(scope="module")
def ray_cluster() -> str:
    """A local Ray (2 CPUs) for the module, skipped when Ray is not installed; its GCS address for
    processes that join it (they inherit the RAY_AUTH_MODE that ray.init sets here; it is restored
    afterwards)."""
    ray = pytest.importorskip("ray")
    saved = os.environ.get("RAY_AUTH_MODE")
    ctx = ray.init(num_cpus=2, include_dashboard=False, logging_level=logging.WARNING)
    try:
        yield ctx.address_info["gcs_address"]
    finally:
        ray.shutdown()
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved
