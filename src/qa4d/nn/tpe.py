"""Timestamp positional encoding (TPE, 4D-RGPT A1.1): a sinusoid of each frame's timestamp added
to every visual token of that frame, so the model gets the frame times without any change to the
text. Written by `qa4d train p4d --tpe` into the checkpoint (`qa4d_tpe.json`) and applied by
`qa4d eval --model hf` whenever a checkpoint carries that file.

The formula is not in the text provided of the paper (only its constant 10,000 is); qa4d uses the
transformer sinusoid of the timestamp t in seconds, for a token width d:

    TPE(t)[2i]   = scale * sin(t / base^(2i/d))
    TPE(t)[2i+1] = scale * cos(t / base^(2i/d)),      base = 10,000, i = 0 .. d/2 - 1

A frame without a known timestamp (NaN) gets no encoding.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

TPE_FILE = "qa4d_tpe.json"


def timestamp_encoding(timestamps: np.ndarray, dim: int, base: float = 10000.0, scale: float = 1.0) -> np.ndarray:
    """timestamps: (F,) seconds -> (F, dim) float64; rows of NaN timestamps are 0. dim must be even."""
    if dim % 2:
        raise ValueError(f"TPE width must be even, got {dim}")
    t = np.asarray(timestamps, dtype=np.float64).reshape(-1, 1)
    inv = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)          # (dim/2,)
    angle = t * inv[None, :]
    out = np.empty((t.shape[0], dim), dtype=np.float64)
    out[:, 0::2] = np.sin(angle)
    out[:, 1::2] = np.cos(angle)
    out[~np.isfinite(t[:, 0])] = 0.0
    return scale * out


class TPEHook:
    """Adds the TPE to a Qwen2-VL / Qwen2.5-VL vision tower's merged tokens (its pooler_output),
    frame by frame. Call `set_timestamps` with one timestamp per image before each forward pass
    that sees images (in the order of the images in pixel_values)."""

    def __init__(self, visual, dim: int, base: float = 10000.0, scale: float = 1.0):
        self.dim, self.base, self.scale = int(dim), float(base), float(scale)
        self.merge = int(getattr(visual, "spatial_merge_size", 2))
        self.timestamps: list[float] | None = None
        self.handle = visual.register_forward_hook(self._hook, with_kwargs=True)

    def set_timestamps(self, timestamps: Sequence[float] | None) -> None:
        self.timestamps = None if timestamps is None else [float(t) for t in timestamps]

    def _hook(self, module, args, kwargs, output):
        import torch

        grid = kwargs.get("grid_thw", args[1] if len(args) > 1 else None)
        if grid is None or self.timestamps is None:
            return output
        counts = (grid.prod(-1) // (self.merge * self.merge)).tolist()
        if len(counts) != len(self.timestamps):
            raise ValueError(f"TPE: {len(counts)} images but {len(self.timestamps)} timestamps")
        enc = torch.as_tensor(timestamp_encoding(np.array(self.timestamps), self.dim, self.base, self.scale))
        per_token = torch.repeat_interleave(enc, torch.tensor(counts), dim=0)
        tokens = output.pooler_output if hasattr(output, "pooler_output") else output
        added = tokens + per_token.to(tokens.device, tokens.dtype)
        if hasattr(output, "pooler_output"):
            output.pooler_output = added
            return output
        return added

    def remove(self) -> None:
        self.handle.remove()

    def describe(self) -> dict[str, Any]:
        return {"dim": self.dim, "base": self.base, "scale": self.scale}


def vision_tower(model):
    """The vision tower of a Qwen2-VL / Qwen2.5-VL model (also under a PEFT wrapper)."""
    for path in ("model.visual", "visual", "base_model.model.model.visual"):
        obj = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise ValueError("TPE: this model has no Qwen-style vision tower (model.visual)")


def attach_tpe(model, dim: int, base: float = 10000.0, scale: float = 1.0) -> TPEHook:
    return TPEHook(vision_tower(model), dim, base, scale)


def tpe_from_checkpoint(model, path: Path) -> TPEHook | None:
    """The TPE hook a checkpoint asks for (its qa4d_tpe.json), attached to `model`; else None."""
    f = Path(path) / TPE_FILE
    if not f.is_file():
        return None
    cfg = json.loads(f.read_text())
    return attach_tpe(model, int(cfg["dim"]), float(cfg.get("base", 10000.0)), float(cfg.get("scale", 1.0)))


def item_timestamps(items: Sequence[Any], n_images: Sequence[int]) -> list[float]:
    """One timestamp per image shown, for items answered together: the item's `meta.timestamps`
    when there is one per image shown, else NaN (no encoding for that item's frames)."""
    out: list[float] = []
    for item, n in zip(items, n_images):
        ts = (getattr(item, "meta", None) or {}).get("timestamps")
        ok = isinstance(ts, list) and len(ts) == n and all(isinstance(t, (int, float)) for t in ts)
        out += [float(t) for t in ts] if ok else [math.nan] * n
    return out
