"""P4D (4D-RGPT's perceptual distillation): the 4D perception decoder, the token-to-grid mapping
and the losses, L = L_SFT + alpha * L_LD + beta * L_ED (A1.3, Eq. A8).

  L_LD = SmoothL1(D_4DP(F_hidden), E_4D(frames))                   latent distillation
  L_ED = sum_m lambda_m * SmoothL1(D_m(D_4DP(F_hidden)), D_m(E_4D(frames)))   explicit distillation
         lambda = depth 1.0, flow 0.1, motion 0.05, camray 0.05

SmoothL1 is PyTorch's (beta 1.0), averaged over every element. D_m are the teacher's own heads,
frozen (their outputs as targets: depth in metres, flow, motion probability, rays). The choices
the text leaves open, and qa4d's (each a flag of `qa4d train p4d`): the hidden layer (the last, after
the final norm: --hidden-layer -1), the tokens (the visual tokens of every frame), the mapping of a
frame's visual tokens to the teacher's grid (the student's (h, w) token grid decoded, then resized
bilinearly to the teacher's latent grid: --grid-map), whether heads train (no: frozen copies).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

ED_WEIGHTS = {"depth": 1.0, "flow": 0.1, "motion": 0.05, "camray": 0.05}


class PerceptionDecoder(nn.Module):
    """D_4DP: 3-layer MLP (Linear, GELU, Linear, GELU, Linear), Xavier-uniform weights, zero biases.
    (..., in_dim) -> (..., out_dim)."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 2560):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, out_dim))
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(x)


def smooth_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.smooth_l1_loss(a, b, reduction="mean", beta=1.0)


def latent_distillation(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """L_LD for latents of one shape (T, C, h, w) -> scalar."""
    return smooth_l1(student, teacher)


def explicit_distillation(student: dict[str, torch.Tensor], teacher: dict[str, torch.Tensor],
                          weights: dict[str, float] = ED_WEIGHTS) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(L_ED = sum_m weights[m] * SmoothL1(student[m], teacher[m]), {m: SmoothL1 unweighted})."""
    terms = {m: smooth_l1(student[m], teacher[m]) for m in weights}
    return sum(weights[m] * terms[m] for m in weights), terms


def frame_token_grids(hidden: torch.Tensor, input_ids: torch.Tensor, image_token_id: int,
                      grid_thw: torch.Tensor, merge: int) -> list[torch.Tensor]:
    """The hidden states of each image's visual tokens as its token grid.

    hidden (B, L, D), input_ids (B, L); grid_thw (N, 3) patches (t, h, w) of the N images in batch
    order. Returns N tensors (h / merge, w / merge, D) (t = 1 for images: a frame)."""
    tokens = hidden[input_ids == image_token_id]                        # (sum of tokens, D), batch order
    sizes = [(int(t), int(h) // merge, int(w) // merge) for t, h, w in grid_thw.tolist()]
    counts = [t * h * w for t, h, w in sizes]
    if sum(counts) != tokens.shape[0]:
        raise ValueError(f"{tokens.shape[0]} visual tokens but the image grids give {sum(counts)}")
    out = []
    for chunk, (t, h, w) in zip(torch.split(tokens, counts), sizes):
        if t != 1:
            raise ValueError(f"an image with {t} temporal patches: P4D expects one frame per image")
        out.append(chunk.reshape(h, w, -1))
    return out


def to_teacher_grid(grids: Sequence[torch.Tensor], size: tuple[int, int], mode: str = "bilinear") -> torch.Tensor:
    """Decoded per-frame grids [(h_i, w_i, C)] -> (T, C, H, W), each resized to the teacher's grid."""
    out = []
    for g in grids:
        x = g.permute(2, 0, 1)[None]
        kw = {"align_corners": False} if mode == "bilinear" else {}
        out.append(F.interpolate(x, size=size, mode=mode, **kw)[0])
    return torch.stack(out)
