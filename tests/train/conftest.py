"""Fixtures of the training tests: a tiny Qwen2.5-VL (built by `qa4d train tiny-model`) and a tiny
hand-made dataset. torch runs on one thread so that the runs are reproducible and light. Tests
that need torch, transformers or peft skip without them (each test module importorskips)."""

from __future__ import annotations

import pytest

from .tiny_data import make_dataset

try:
    import torch
except ImportError:
    torch = None
else:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    pytest.importorskip("transformers")
    from qa4d.train.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen") / "model", seed=0)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    return make_dataset(tmp_path_factory.mktemp("tiny-ds") / "ds", n_track=2)
