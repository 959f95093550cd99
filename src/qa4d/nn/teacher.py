"""A small 4D perception model in the role of L4P (4D-RGPT's teacher, 4DP-QA's geometry encoder):
a video encoder and one head per modality, depth (1 channel), optical flow (2), motion mask (1) and
camera rays (6).

Encoder: frames (T, 3, S, S) in [0, 1] -> patch embedding (conv, stride P) -> GELU -> per-frame
3x3 conv -> temporal mixing (conv over time, kernel 3) with a residual -> latent (T, C, S/P, S/P).
Flow and motion of frame t look at frame t+1 through the temporal mixing.
Heads: latent -> 3x3 conv, GELU -> 1x1 conv to ch * P * P -> pixel shuffle -> (T, ch, S, S).
`predict` gives the outputs as targets: depth in metres (exp of the log-depth head), flow in
pixels of the S x S input, motion probability (sigmoid), rays as they are.

A plug-in teacher (`--teacher python:MODULE:CALLABLE`) is any object with `input_size` (S),
`latent_dim` (C), `encode(frames (T, 3, S, S)) -> (T, C, h, w)` and `predict(latent) -> {modality:
(T, ch, S, S)}` built by CALLABLE(); `predict` must be differentiable in `latent`.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

MODALITIES = {"depth": 1, "flow": 2, "motion": 1, "camray": 6}
CONFIG_FILE = "teacher.json"
WEIGHTS_FILE = "teacher.pt"


@dataclass
class TeacherConfig:
    input_size: int = 64     # S: frames are resized to S x S
    patch: int = 8           # P: latent grid S/P x S/P
    dim: int = 32            # C: latent channels


class Head(nn.Module):
    def __init__(self, dim: int, channels: int, patch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(dim, dim, 3, padding=1), nn.GELU(),
                                  nn.Conv2d(dim, channels * patch * patch, 1), nn.PixelShuffle(patch))

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return self.body(latent)


class Teacher(nn.Module):
    def __init__(self, config: TeacherConfig):
        super().__init__()
        c = config
        if c.input_size % c.patch:
            raise ValueError(f"teacher input_size {c.input_size} is not a multiple of patch {c.patch}")
        self.config = c
        self.input_size, self.latent_dim = c.input_size, c.dim
        self.embed = nn.Sequential(nn.Conv2d(3, c.dim, c.patch, stride=c.patch), nn.GELU(),
                                   nn.Conv2d(c.dim, c.dim, 3, padding=1))
        self.temporal = nn.Conv1d(c.dim, c.dim, 3, padding=1)
        self.heads = nn.ModuleDict({m: Head(c.dim, ch, c.patch) for m, ch in MODALITIES.items()})

    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames (T, 3, S, S) in [0, 1] -> latent (T, C, S/P, S/P)."""
        x = self.embed(frames * 2.0 - 1.0)                                  # (T, C, h, w)
        t, c, h, w = x.shape
        seq = x.permute(2, 3, 1, 0).reshape(h * w, c, t)                    # time series per cell
        mixed = self.temporal(seq).reshape(h, w, c, t).permute(3, 2, 0, 1)
        return x + torch.nn.functional.gelu(mixed)

    def raw(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        """Head outputs before their output transforms: log-depth, flow, motion logits, rays."""
        return {m: head(latent) for m, head in self.heads.items()}

    def predict(self, latent: torch.Tensor) -> dict[str, torch.Tensor]:
        r = self.raw(latent)
        return {"depth": torch.exp(r["depth"]), "flow": r["flow"], "motion": torch.sigmoid(r["motion"]),
                "camray": r["camray"]}


def save_teacher(model: Teacher, out: Path) -> None:
    import io

    from qa4d._io import write_bytes_atomic, write_json_atomic

    buf = io.BytesIO()
    torch.save({k: v.cpu() for k, v in model.state_dict().items()}, buf)
    write_bytes_atomic(Path(out) / WEIGHTS_FILE, buf.getvalue())
    write_json_atomic(Path(out) / CONFIG_FILE, {"kind": "qa4d-teacher", **asdict(model.config),
                                                 "modalities": MODALITIES})


def load_teacher(spec: str | Path):
    """A frozen teacher in eval mode: a directory written by `qa4d train teacher` (its final/ or the
    run directory), or `python:MODULE:CALLABLE` (see the module docstring)."""
    spec = str(spec)
    if spec.startswith("python:"):
        try:
            _, module, attr = spec.split(":", 2)
            teacher = getattr(importlib.import_module(module), attr)()
        except (ValueError, ImportError, AttributeError) as e:
            raise SystemExit(f"--teacher {spec}: cannot load ({e}); expected python:MODULE:CALLABLE") from None
    else:
        path = Path(spec)
        if (path / "final" / CONFIG_FILE).is_file():
            path = path / "final"
        if not (path / CONFIG_FILE).is_file():
            raise SystemExit(f"--teacher {spec}: no {CONFIG_FILE} (not a `qa4d train teacher` output)")
        cfg = json.loads((path / CONFIG_FILE).read_text())
        teacher = Teacher(TeacherConfig(**{k: cfg[k] for k in ("input_size", "patch", "dim")}))
        teacher.load_state_dict(torch.load(path / WEIGHTS_FILE, weights_only=True))
    for name in ("input_size", "latent_dim", "encode", "predict"):
        if not hasattr(teacher, name):
            raise SystemExit(f"--teacher {spec}: the teacher has no {name!r}")
    if isinstance(teacher, nn.Module):
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad = False
    return teacher


def frames_tensor(images, size: int) -> torch.Tensor:
    """PIL images or (H, W, 3) uint8 arrays -> (T, 3, size, size) float32 in [0, 1] (bilinear resize)."""
    import numpy as np
    from PIL import Image

    arrs = []
    for im in images:
        pil = im if isinstance(im, Image.Image) else Image.fromarray(np.asarray(im))
        pil = pil.convert("RGB").resize((size, size), Image.BILINEAR)
        arrs.append(np.asarray(pil, dtype=np.float32) / 255.0)
    return torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2).contiguous()
