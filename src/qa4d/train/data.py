"""Training examples from a qa4d dataset split, and their model inputs.

A split's `samples.jsonl` (any family, see docs/samples.md) is read with the same loader and the
same prompt builder as `qa4d eval --benchmark DATASET/bench`, so a model is trained on exactly the
text it is later asked: the frame timestamps line ("The frames were taken at ... seconds."), the
question, the options and the answer instruction; the frames are the record's `media`, in order.
The target is the record's `answer` (the letter for mc, yes/no, the answer sentence, the track
text), followed by the tokenizer's end-of-sequence token so that the model learns to stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

IGNORE = -100  # label of a position that is not supervised


class DatasetError(ValueError):
    """A dataset that cannot be trained on; the message names the file and the field."""


@dataclass
class Example:
    id: str
    task: str
    prompt: str
    answer: str
    images: list[Path]
    timestamps: list[float] | None
    tracking: bool
    scene_id: str | None = None


def read_examples(dataset: str | Path, split: str = "train") -> list[Example]:
    """Every record of DATASET/<split>/samples.jsonl as an Example (file order)."""
    from qa4d.bench.benchmarks.base import BenchmarkFormatError
    from qa4d.bench.benchmarks.qa4d import QA4D

    dataset = Path(dataset)
    path = dataset / split / "samples.jsonl"
    if not path.is_file():
        raise DatasetError(f"{path}: no such file (--dataset must be a qa4d dataset with a {split}/ split)")
    bench = QA4D()
    try:
        items = bench.load(path)
    except BenchmarkFormatError as e:
        raise DatasetError(str(e)) from None
    out, missing = [], []
    for item in items:
        images = bench.media_paths(item, dataset)
        missing += [str(p) for p in images if not p.is_file()]
        ts = item.meta.get("timestamps")
        ts = [float(t) for t in ts] if isinstance(ts, list) and len(ts) == len(images) else None
        out.append(Example(
            id=item.id, task=item.task, prompt=bench.build_prompt(item, "do", frames=len(images)),
            answer=item.answer, images=images, timestamps=ts,
            tracking=item.category == "point_tracking" or item.answer_format == "track",
            scene_id=item.meta.get("scene_id")))
    if missing:
        raise DatasetError(f"{path}: {len(missing)} media files are missing, e.g. {missing[0]}")
    if not out:
        raise DatasetError(f"{path}: no samples")
    return out


def mix_tracking(examples: Sequence[Example], share: float | None, seed: int) -> list[Example]:
    """4DP-QA's tracking mix (sec. 5.3): the number of samples stays that of the standard QA, and a
    `share` of it is replaced by tracking QA (drawn at random, seeded). share None: all examples.
    With fewer tracking samples than needed, all of them are used (the total shrinks)."""
    if share is None:
        return list(examples)
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"--tracking-share must be in [0, 1], got {share}")
    standard = [e for e in examples if not e.tracking]
    tracking = [e for e in examples if e.tracking]
    n = len(standard) if standard else len(tracking)
    wanted = int(round(share * n))                     # tracking samples in the mix
    rng = np.random.default_rng(seed)
    keep_s = sorted(rng.permutation(len(standard))[: n - wanted].tolist()) if standard else []
    keep_t = sorted(rng.permutation(len(tracking))[: min(wanted, len(tracking))].tolist())
    return [standard[i] for i in keep_s] + [tracking[i] for i in keep_t]


def sample_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order of the n examples in `epoch`: a seeded permutation, the same on every resume."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def positions_to_indices(positions: range, n: int, seed: int) -> list[int]:
    """Example indices of global sample positions (position p is the (p mod n)-th of epoch p // n)."""
    cache: dict[int, np.ndarray] = {}
    out = []
    for p in positions:
        e = p // n
        if e not in cache:
            cache[e] = sample_order(n, seed, e)
        out.append(int(cache[e][p % n]))
    return out


class Encoder:
    """Turns examples into model inputs with labels, through the inputs code of `qa4d eval --model
    hf` (`HFModel.prepare`): the chat template with one image entry per frame, image placeholders
    expanded to each frame's visual tokens. The answer ids follow the prompt ids; labels are the
    answer ids (and the end token), IGNORE everywhere else."""

    def __init__(self, hf_model):
        self.hf = hf_model
        self.tokenizer = hf_model.tokenizer
        eos = self.tokenizer.eos_token
        if eos is None:
            raise DatasetError(f"{hf_model.path}: the tokenizer has no end-of-sequence token")
        self.end = eos

    def answer_ids(self, answer: str) -> list[int]:
        return self.tokenizer(answer + self.end, add_special_tokens=False)["input_ids"]

    def encode(self, ex: Example) -> dict[str, Any]:
        """One example: input_ids, labels, mm_token_type_ids (1-D lists; the last None if the
        processor gives none), pixel_values, image_grid_thw (or None). The answer tokens are text
        (mm_token_type_ids 0)."""
        from PIL import Image

        images = []
        for p in ex.images:
            with Image.open(p) as im:
                images.append(im.convert("RGB"))
        inputs = self.hf.prepare(ex.prompt, images)
        prompt_ids = inputs["input_ids"][0].tolist()
        ans = self.answer_ids(ex.answer)
        types = inputs.get("mm_token_type_ids")                       # None if the processor gives none
        return {"input_ids": prompt_ids + ans, "labels": [IGNORE] * len(prompt_ids) + ans,
                "mm_token_type_ids": None if types is None else types[0].tolist() + [0] * len(ans),
                "pixel_values": inputs.get("pixel_values"), "image_grid_thw": inputs.get("image_grid_thw"),
                "timestamps": ex.timestamps, "n_images": len(images), "images": images}

    def collate(self, encoded: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Right-pads a list of encoded examples into one batch (B, L); the frames of all examples go
        into one pixel_values, in example order (the order the model fills the placeholders)."""
        import torch

        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        length = max(len(e["input_ids"]) for e in encoded)
        ids = torch.full((len(encoded), length), pad, dtype=torch.long)
        labels = torch.full((len(encoded), length), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(encoded), length), dtype=torch.long)
        types = torch.zeros((len(encoded), length), dtype=torch.long)    # padding counts as text
        for i, e in enumerate(encoded):
            n = len(e["input_ids"])
            ids[i, :n] = torch.tensor(e["input_ids"])
            labels[i, :n] = torch.tensor(e["labels"])
            if e["mm_token_type_ids"] is not None:
                types[i, :n] = torch.tensor(e["mm_token_type_ids"])
            mask[i, :n] = 1
        device = self.hf.device
        batch: dict[str, Any] = {"input_ids": ids.to(device), "attention_mask": mask.to(device),
                                 "labels": labels.to(device)}
        if any(e["mm_token_type_ids"] is not None for e in encoded):
            batch["mm_token_type_ids"] = types.to(device)
        pix = [e["pixel_values"] for e in encoded if e["pixel_values"] is not None]
        if pix:
            batch["pixel_values"] = torch.cat(pix, dim=0)
            batch["image_grid_thw"] = torch.cat([e["image_grid_thw"] for e in encoded if e["image_grid_thw"] is not None])
        ts: list[float] = []
        for e in encoded:
            ts += e["timestamps"] if e["timestamps"] is not None else [float("nan")] * e["n_images"]
        batch["timestamps"] = ts
        batch["clips"] = [e["images"] for e in encoded]                  # the PIL frames of each example
        return batch
