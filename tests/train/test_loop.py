"""The shared training loop on a least-squares problem: a resumed run ends with the log and the
weights of an uninterrupted one, and a checkpoint interval that cannot work is refused up front."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from qa4d.train import loop  # noqa: E402


def _problem(seed: int = 0):
    """y = x @ w_true, 3 micro-batches of 4 rows per step; the data of a step depend on the step only."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])

    def micro_batches(step: int):
        return [(x[(12 * step + 4 * k) % 64:][:4], y[(12 * step + 4 * k) % 64:][:4]) for k in range(3)]

    return micro_batches


def _run(out: Path, steps: int = 6, save_every: int = 3) -> list[dict]:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    cfg = loop.LoopConfig(out=out, steps=steps, lr=0.05, save_every=save_every, keep=5, progress=False)

    def step_loss(mb):
        xb, yb = mb
        loss = torch.nn.functional.mse_loss(model(xb), yb)
        return loss, {"abs_err": (model(xb) - yb).abs().mean()}

    def save_final(d: Path) -> None:
        d.mkdir(parents=True)
        torch.save(model.state_dict(), d / "model.pt")

    return loop.train(cfg, {"model": model}, _problem(), step_loss, save_final)


def test_a_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    whole = _run(tmp_path / "whole")
    assert [r["step"] for r in whole] == [1, 2, 3, 4, 5, 6]
    assert whole[-1]["loss"] < whole[0]["loss"]

    cut = tmp_path / "cut"
    _run(cut)
    # as if killed after step 4: the step-6 checkpoint and final/ never written, log cut mid-line
    shutil.rmtree(cut / "checkpoints" / "step_00000006")
    shutil.rmtree(cut / "final")
    lines = (cut / "log.jsonl").read_text().splitlines()
    (cut / "log.jsonl").write_text("\n".join(lines[:4]) + "\n" + lines[4][:10])
    resumed = _run(cut)

    assert resumed == whole
    assert [json.loads(l) for l in (cut / "log.jsonl").read_text().splitlines()] == whole
    a = torch.load(tmp_path / "whole" / "final" / "model.pt", weights_only=True)
    b = torch.load(cut / "final" / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("every", [0, -2])
def test_a_checkpoint_interval_below_one_is_refused_before_any_step(tmp_path, every):
    with pytest.raises(SystemExit, match="--save-every must be at least 1"):
        _run(tmp_path / "run", save_every=every)
    assert not (tmp_path / "run" / "log.jsonl").exists()
