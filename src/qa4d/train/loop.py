"""The training loop every `qa4d train` sub-verb shares: optimiser steps over a seeded sample
order, gradient accumulation, AdamW with a warm-up + cosine (or constant) schedule, the step log,
the loss plot, resumable checkpoints and the final save.

RUN/
  log.jsonl         one object per optimiser step: step, loss, each loss term by name, lr, epoch
  loss.png          every logged term against the step (rewritten at each checkpoint and at the end)
  checkpoints/step_NNNNNNNN/   trainable weights, optimiser, scheduler, RNG states, state.json
  final/            written by the sub-verb's `save_final` after the last step
  train.json        the arguments of the run (a resumed run must be started with the same ones)

Resuming: the same command finds the newest complete checkpoint (a directory is complete once
renamed into place, which is atomic), restores everything, drops the log lines after it and goes
on. The data order is a function of (seed, epoch) and the step alone, so the steps that follow
see the same examples as an uninterrupted run and, on CPU, give the same losses.
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from qa4d._io import jsonl_line, write_bytes_atomic, write_json_atomic

CKPT_DIR = "checkpoints"


@dataclass
class LoopConfig:
    out: Path
    steps: int                       # optimiser steps in all
    lr: float
    warmup_ratio: float = 0.0
    schedule: str = "cosine"         # cosine | constant (after warm-up)
    weight_decay: float = 0.0
    grad_clip: float = 1.0           # max gradient norm (0: no clipping)
    save_every: int = 50
    keep: int = 2                    # checkpoints kept
    seed: int = 0
    progress: bool = True


def lr_factor(step: int, steps: int, warmup_ratio: float, schedule: str) -> float:
    """Multiplier of the peak lr at optimiser step `step` (0-based): linear warm-up over
    ceil(warmup_ratio * steps) steps, then cosine from 1 to 0 at `steps` (or constant 1)."""
    warm = math.ceil(warmup_ratio * steps)
    if step < warm:
        return (step + 1) / warm
    if schedule == "constant":
        return 1.0
    if schedule != "cosine":
        raise ValueError(f"unknown schedule {schedule!r} (cosine, constant)")
    span = max(1, steps - warm)
    return 0.5 * (1.0 + math.cos(math.pi * (step - warm) / span))


def seed_everything(seed: int) -> None:
    import random

    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _ckpt_name(step: int) -> str:
    return f"step_{step:08d}"


def latest_checkpoint(out: Path) -> Path | None:
    root = out / CKPT_DIR
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and (p / "state.json").is_file())
    return done[-1] if done else None


def check_run_args(out: Path, args: dict[str, Any]) -> None:
    """Refuse to resume a run started with other arguments (train.json); write it on a new run."""
    path = out / "train.json"
    if path.is_file():
        old = json.loads(path.read_text())
        diff = sorted(k for k in set(old) | set(args) if old.get(k) != args.get(k) and k not in ("progress",))
        if diff:
            raise SystemExit(f"{path}: this run was started with other arguments ({', '.join(diff)}); "
                             f"use another --out or the same arguments")
    else:
        write_json_atomic(path, args)


def _read_log(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break  # a line cut by a crash: everything after it is redone
    return rows


def plot_losses(rows: Sequence[dict[str, Any]], path: Path, title: str = "") -> None:
    """loss.png: the total loss and each term against the optimiser step (log scale when positive)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    keys = [k for k in (rows[0] if rows else {}) if k not in ("step", "lr", "epoch")]
    steps = [r["step"] for r in rows]
    for k in keys:
        ax.plot(steps, [r.get(k) for r in rows], label=k, lw=2.0 if k == "loss" else 1.0)
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("loss")
    if rows and all((r.get(k) or 0) > 0 for r in rows for k in keys):
        ax.set_yscale("log")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if keys:
        ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_bytes_atomic(path, buf.getvalue())


def _save_checkpoint(out: Path, step: int, modules: dict[str, Any], optimizer, extra: dict[str, Any], keep: int) -> None:
    import torch

    root = out / CKPT_DIR
    root.mkdir(parents=True, exist_ok=True)
    final = root / _ckpt_name(step)
    tmp = root / f".{final.name}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    trainable = {name: {k: v.detach().clone() for k, v in m.named_parameters() if v.requires_grad}
                 for name, m in modules.items()}
    for fname, obj in (("trainable.pt", trainable), ("optimizer.pt", optimizer.state_dict()),
                       ("rng.pt", {"torch": torch.get_rng_state()})):
        buf = io.BytesIO()
        torch.save(obj, buf)
        write_bytes_atomic(tmp / fname, buf.getvalue())
    write_json_atomic(tmp / "state.json", {"step": step, **extra})
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    done = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_"))
    for old in done[:-keep]:
        shutil.rmtree(old)


def _load_checkpoint(ckpt: Path, modules: dict[str, Any], optimizer) -> dict[str, Any]:
    import torch

    trainable = torch.load(ckpt / "trainable.pt", weights_only=True)
    for name, m in modules.items():
        params = dict(m.named_parameters())
        with torch.no_grad():
            for k, v in trainable[name].items():
                params[k].copy_(v)
    optimizer.load_state_dict(torch.load(ckpt / "optimizer.pt", weights_only=True))
    torch.set_rng_state(torch.load(ckpt / "rng.pt", weights_only=True)["torch"])
    return json.loads((ckpt / "state.json").read_text())


def train(cfg: LoopConfig, modules: dict[str, Any], micro_batches: Callable[[int], Sequence[Any]],
          step_loss: Callable[[Any], tuple[Any, dict[str, Any]]], save_final: Callable[[Path], None],
          title: str = "", epoch_of: Callable[[int], float] | None = None) -> list[dict[str, Any]]:
    """Run optimiser steps 0..cfg.steps-1 (resuming after the newest checkpoint) and save final/.

    modules: name -> torch module whose parameters with requires_grad are trained (and saved);
    micro_batches(step): the micro-batches of one optimiser step (gradient accumulation);
    step_loss(micro_batch): (loss tensor, {term name: tensor or float}) for one micro-batch.
    Logged values are the means over the step's micro-batches. Returns the log rows.
    """
    import torch
    from tqdm import tqdm

    if cfg.save_every < 1:
        raise SystemExit(f"--save-every must be at least 1 (optimiser steps between checkpoints), got {cfg.save_every}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    params = [p for m in modules.values() for p in m.parameters() if p.requires_grad]
    if not params:
        raise SystemExit("nothing to train: every parameter is frozen")
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    log_path = out / "log.jsonl"
    start, rows = _resume(out, log_path, modules, optimizer)
    if start >= cfg.steps and (out / "final").is_dir():
        return rows
    for m in modules.values():
        m.train()
    bar = tqdm(total=cfg.steps, initial=start, desc=f"train {title}".strip(), unit="step",
               disable=None if cfg.progress else True)
    with open(log_path, "a", encoding="utf-8") as log:
        for step in range(start, cfg.steps):
            row = _optimiser_step(cfg, step, params, optimizer, micro_batches, step_loss)
            if epoch_of is not None:
                row["epoch"] = epoch_of(step + 1)
            rows.append(row)
            log.write(jsonl_line(row) + "\n")
            log.flush()
            bar.update(1)
            bar.set_postfix(loss=f"{row['loss']:.4f}")
            if (step + 1) % cfg.save_every == 0 or step + 1 == cfg.steps:
                os.fsync(log.fileno())
                _save_checkpoint(out, step + 1, modules, optimizer, {"loss": row["loss"]}, cfg.keep)
                plot_losses(rows, out / "loss.png", title)
    bar.close()
    for m in modules.values():
        m.eval()
    _write_final(out, save_final)
    plot_losses(rows, out / "loss.png", title)
    return rows


def _resume(out: Path, log_path: Path, modules: dict[str, Any], optimizer) -> tuple[int, list[dict[str, Any]]]:
    """(the step to start at, the log rows up to it): the newest complete checkpoint is loaded into
    `modules` and `optimizer`, and log.jsonl is cut back to its step (0 and [] on a new run)."""
    start = 0
    ckpt = latest_checkpoint(out)
    if ckpt is not None:
        start = _load_checkpoint(ckpt, modules, optimizer)["step"]
    rows = [r for r in _read_log(log_path) if r.get("step", 0) <= start]
    write_bytes_atomic(log_path, "".join(jsonl_line(r) + "\n" for r in rows).encode())
    return start, rows


def _optimiser_step(cfg: LoopConfig, step: int, params: list, optimizer, micro_batches: Callable[[int], Sequence[Any]],
                    step_loss: Callable[[Any], tuple[Any, dict[str, Any]]]) -> dict[str, Any]:
    """One optimiser step (0-based `step`) over its micro-batches, gradients accumulated and
    clipped; returns its log row (step + 1, the mean of each loss term, lr)."""
    import torch

    lr = cfg.lr * lr_factor(step, cfg.steps, cfg.warmup_ratio, cfg.schedule)
    for group in optimizer.param_groups:
        group["lr"] = lr
    optimizer.zero_grad(set_to_none=True)
    mbs = micro_batches(step)
    sums: dict[str, float] = {}
    for mb in mbs:
        loss, terms = step_loss(mb)
        (loss / len(mbs)).backward()
        for k, v in {"loss": loss, **terms}.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach() if hasattr(v, "detach") else v)
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
    optimizer.step()
    return {"step": step + 1, **{k: v / len(mbs) for k, v in sums.items()}, "lr": lr}


def _write_final(out: Path, save_final: Callable[[Path], None]) -> None:
    """final/, written by `save_final` into a temporary directory and renamed into place."""
    final = out / "final"
    tmp = out / ".final.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    save_final(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)


def config_dict(cfg: Any) -> dict[str, Any]:
    d = asdict(cfg)
    return {k: str(v) if isinstance(v, Path) else v for k, v in d.items()}
