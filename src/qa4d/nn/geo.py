"""The geometry tokens of 4DP-QA's 4D VLM: a frozen 4D encoder's features of each frame, pooled to a
small grid and projected by an MLP into the LLM's embedding space, interleaved with the frames'
visual tokens. Written by `qa4d train geo` into the checkpoint (qa4d_geo/) and applied by
`qa4d eval --model hf` whenever a checkpoint carries that directory.

Interleaving (the paper leaves the granularity and order open; qa4d's choice): after each frame's
`<|vision_end|>` come that frame's G = g x g geometry tokens (placeholders `<|geo_pad|>`, an added
special token), so the sequence reads  [vision_start, frame 1 visual tokens, vision_end, frame 1
geometry tokens, vision_start, frame 2 ..., text]. The geometry token k of a frame is cell k of the
g x g grid in raster order (adaptive average pooling of the encoder's latent grid). The frames of
one item go through the encoder together, as one clip.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

GEO_TOKEN = "<|geo_pad|>"
GEO_DIR = "qa4d_geo"
VISION_END = "<|vision_end|>"


class GeoAdapter(nn.Module):
    def __init__(self, teacher, hidden: int, grid: int = 2):
        super().__init__()
        self.teacher = teacher
        self.grid = int(grid)
        c = int(teacher.latent_dim)
        self.projector = nn.Sequential(nn.Linear(c, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.token_id: int | None = None
        self.staged: torch.Tensor | None = None
        self.handle = None

    @property
    def tokens_per_frame(self) -> int:
        return self.grid * self.grid

    def edit_text(self, text: str) -> str:
        """Insert each frame's geometry placeholders after its vision_end token."""
        return text.replace(VISION_END, VISION_END + GEO_TOKEN * self.tokens_per_frame)

    def frame_tokens(self, images) -> torch.Tensor:
        """One clip's frames -> (T * G, hidden): pooled encoder features, projected, in frame order."""
        from qa4d.nn.teacher import frames_tensor

        with torch.no_grad():
            frames = frames_tensor(images, int(self.teacher.input_size)).to(self.projector[0].weight.device)
            latent = self.teacher.encode(frames)                                               # (T, C, h, w)
            pooled = nn.functional.adaptive_avg_pool2d(latent, self.grid)                     # (T, C, g, g)
        cells = pooled.flatten(2).transpose(1, 2)                                              # (T, G, C) raster
        return self.projector(cells).reshape(-1, self.projector[-1].out_features)

    def stage_clips(self, clips: Sequence[Sequence]) -> None:
        """The geometry tokens of the next forward pass: one image list per item, in batch order."""
        parts = [self.frame_tokens(ims) for ims in clips if len(ims)]
        self.staged = torch.cat(parts) if parts else None

    def attach(self, model, tokenizer) -> None:
        """Add the placeholder token (growing the embeddings only if the vocabulary has no room)
        and hook the input embeddings so that the placeholders carry the staged geometry tokens."""
        if GEO_TOKEN not in tokenizer.get_vocab():
            tokenizer.add_special_tokens({"additional_special_tokens": [GEO_TOKEN]},
                                         replace_extra_special_tokens=False)
        self.token_id = int(tokenizer.convert_tokens_to_ids(GEO_TOKEN))
        emb = model.get_input_embeddings()
        if self.token_id >= emb.weight.shape[0]:
            model.resize_token_embeddings(self.token_id + 1, mean_resizing=False)
            emb = model.get_input_embeddings()
        self.handle = emb.register_forward_hook(self._hook)

    def _hook(self, module, args, output):
        ids = args[0]
        mask = ids == self.token_id
        n = int(mask.sum())
        if n == 0:
            return output
        if self.staged is None or self.staged.shape[0] != n:
            if ids.shape[-1] == 1:        # a generated placeholder while decoding: its own embedding
                return output
            have = 0 if self.staged is None else self.staged.shape[0]
            raise ValueError(f"{n} geometry placeholders but {have} geometry tokens staged")
        out = output.clone()
        out[mask] = self.staged.to(out.dtype)
        return out

    def save(self, out: Path) -> None:
        import io

        from qa4d._io import write_bytes_atomic, write_json_atomic
        from qa4d.nn.teacher import Teacher, save_teacher

        out = Path(out)
        if not isinstance(self.teacher, Teacher):
            raise SystemExit("a geometry checkpoint needs a qa4d teacher (a plug-in teacher cannot be saved in it)")
        save_teacher(self.teacher, out)
        buf = io.BytesIO()
        torch.save(self.projector.state_dict(), buf)
        write_bytes_atomic(out / "projector.pt", buf.getvalue())
        write_json_atomic(out / "geo.json", {"grid": self.grid, "hidden": self.projector[-1].out_features,
                                             "token": GEO_TOKEN, "interleave": "after each frame's vision_end"})

    def describe(self) -> dict:
        return {"grid": self.grid, "tokens_per_frame": self.tokens_per_frame, "token": GEO_TOKEN}


def geo_from_checkpoint(model, tokenizer, path: Path) -> GeoAdapter | None:
    """The geometry adapter a checkpoint carries (its qa4d_geo/), attached to model; else None."""
    from qa4d.nn.teacher import load_teacher

    d = Path(path) / GEO_DIR
    if not (d / "geo.json").is_file():
        return None
    cfg = json.loads((d / "geo.json").read_text())
    adapter = GeoAdapter(load_teacher(d), int(cfg["hidden"]), int(cfg["grid"]))
    adapter.projector.load_state_dict(torch.load(d / "projector.pt", weights_only=True))
    adapter.to(next(model.parameters()).device)
    adapter.attach(model, tokenizer)
    return adapter
