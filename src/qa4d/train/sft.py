"""qa4d train sft: supervised fine-tuning of a VLM on a qa4d dataset (loss on the answer tokens).

Reads:  --dataset DS     DS/train/samples.jsonl and its media (any question family), with the
                         prompt `qa4d eval` builds for the same record (frames, timestamps line,
                         question, options, instruction); the target is the record's answer.
        --model-path M   a local Hugging Face VLM (e.g. from `qa4d train tiny-model`).
Writes: --out RUN        log.jsonl (step, loss, sft, lr, epoch per optimiser step), loss.png,
                         checkpoints/ (rerun the same command to resume), train.json, and final/:
                         a plain checkpoint (LoRA merged) for `qa4d eval --model hf --model-path RUN/final`.

Presets (--preset; any flag given overrides the preset's value):
  4dpqa     1 epoch, AdamW, cosine, lr 1e-5 (2e-5 for NVILA), vision encoder frozen, 20% tracking QA
  multispa  LoRA rank 16 on the LLM, vision encoder and projector frozen, lr 4e-5, cosine, 1 epoch
  4drgpt    lr 1e-5, cosine, warm-up ratio 0.03, 5 epochs, vision encoder frozen
The papers' global batches (128, 192, 1,024) are --batch-size x --grad-accum x GPUs: see docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

PRESETS: dict[str, dict[str, Any]] = json.loads((Path(__file__).with_name("presets.json")).read_text())


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of every VLM training sub-verb (sft, p4d)."""
    parser.add_argument("--dataset", required=True, type=Path, metavar="DS", help="qa4d dataset (DS/train/samples.jsonl)")
    parser.add_argument("--model-path", required=True, type=Path, metavar="M", help="local Hugging Face VLM directory")
    parser.add_argument("--out", required=True, type=Path, metavar="RUN", help="run directory (resumes if it exists)")
    parser.add_argument("--preset", default="none", choices=sorted(PRESETS), help="a paper's recipe (default none)")
    parser.add_argument("--epochs", type=float, default=None, help="passes over the data (preset's; default 1)")
    parser.add_argument("--max-steps", type=int, default=None, help="optimiser steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=1, help="examples per micro-batch (default 1)")
    parser.add_argument("--grad-accum", type=int, default=1, help="micro-batches per optimiser step (default 1)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate (preset's)")
    parser.add_argument("--warmup-ratio", type=float, default=None, help="share of steps of linear warm-up (preset's)")
    parser.add_argument("--schedule", choices=["cosine", "constant"], default=None, help="lr schedule (preset's: cosine)")
    parser.add_argument("--lora-rank", type=int, default=None, help="LoRA rank on the LLM; 0 = full fine-tuning (preset's)")
    parser.add_argument("--lora-alpha", type=float, default=None, help="LoRA alpha (default 2 x rank)")
    parser.add_argument("--freeze", default=None, help="comma list of frozen parts: vision, projector, llm (preset's)")
    parser.add_argument("--tracking-share", type=float, default=None,
                        help="share of tracking QA in a fixed number of samples (4dpqa: 0.2; default: the data as is)")
    parser.add_argument("--max-samples", type=int, default=None, help="use only the first N training samples")
    parser.add_argument("--max-pixels", type=int, default=None, help="cap on pixels per frame (Qwen image processor)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data order and of new weights (default 0)")
    parser.add_argument("--save-every", type=int, default=50, help="checkpoint every N optimiser steps (default 50)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)


def resolve(args: argparse.Namespace, model_type: str) -> dict[str, Any]:
    """The recipe: the preset's values, overridden by every flag given."""
    p = PRESETS[args.preset]
    lr = p.get("lr_nvila", p["lr"]) if "nvila" in model_type.lower() else p["lr"]
    pick = lambda flag, key: getattr(args, flag) if getattr(args, flag) is not None else p[key]  # noqa: E731
    return {"preset": args.preset, "epochs": pick("epochs", "epochs"), "lr": args.lr if args.lr is not None else lr,
            "warmup_ratio": pick("warmup_ratio", "warmup_ratio"), "schedule": pick("schedule", "schedule"),
            "lora_rank": pick("lora_rank", "lora_rank"), "freeze": pick("freeze", "freeze"),
            "tracking_share": pick("tracking_share", "tracking_share")}


class Setup:
    """What sft and p4d share: the model, the examples, the batches and the recipe."""

    def __init__(self, args: argparse.Namespace, run_kind: str, extra_args: dict[str, Any] | None = None,
                 prepare_model=None):
        import torch

        from qa4d.train import data, loop, vlm

        if args.threads:
            torch.set_num_threads(args.threads)
        loop.seed_everything(args.seed)
        self.hf = vlm.load_vlm(args.model_path, args.max_pixels, args.device)
        self.recipe = resolve(args, self.hf.model_type)
        try:
            examples = data.read_examples(args.dataset, "train")
        except data.DatasetError as e:
            raise SystemExit(str(e)) from None
        if args.max_samples:
            examples = examples[: args.max_samples]
        self.examples = data.mix_tracking(examples, self.recipe["tracking_share"], args.seed)
        self.encoder = data.Encoder(self.hf)
        self.per_step = args.batch_size * args.grad_accum
        n = len(self.examples)
        steps = args.max_steps or max(1, math.ceil(self.recipe["epochs"] * n / self.per_step))
        self.args, self.steps, self.n = args, steps, n
        if prepare_model is not None:       # e.g. geo: add the adapter's token before freezing
            prepare_model(self.hf)
        frozen = vlm.parse_parts(self.recipe["freeze"])
        self.model = vlm.set_trainable(self.hf.model, self.hf.model_type, frozen, self.recipe["lora_rank"],
                                       args.lora_alpha)
        self.run_args = {"kind": run_kind, "dataset": str(args.dataset.resolve()),
                         "model_path": str(args.model_path.resolve()), "recipe": self.recipe, "steps": steps,
                         "batch_size": args.batch_size, "grad_accum": args.grad_accum, "seed": args.seed,
                         "examples": n, "max_pixels": args.max_pixels, **(extra_args or {})}
        self.loop_config = loop.LoopConfig(out=args.out, steps=steps, lr=self.recipe["lr"],
                                           warmup_ratio=self.recipe["warmup_ratio"], schedule=self.recipe["schedule"],
                                           save_every=args.save_every, seed=args.seed)

    def micro_batches(self, step: int) -> list[dict[str, Any]]:
        from qa4d.train import data

        b = self.args.batch_size
        start = step * self.per_step
        idx = data.positions_to_indices(range(start, start + self.per_step), self.n, self.args.seed)
        return [self.encoder.collate([self.encoder.encode(self.examples[i]) for i in idx[k:k + b]])
                for k in range(0, len(idx), b)]

    def epoch_of(self, step: int) -> float:
        return round(step * self.per_step / self.n, 4)

    def save_final(self, out: Path, extra: dict[str, Any] | None = None) -> None:
        from qa4d.train import vlm

        vlm.save_vlm(self.model, self.hf, out, {**self.run_args, **(extra or {})})


def sft_step(model, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    from qa4d.train import vlm

    loss = vlm.answer_loss(vlm.forward(model, batch).logits, batch["labels"])
    return loss, {"sft": loss.detach()}


def run(args: argparse.Namespace) -> int:
    from qa4d.train import loop

    s = Setup(args, "sft")
    loop.check_run_args(args.out, s.run_args)
    rows = loop.train(s.loop_config, {"model": s.model}, s.micro_batches, lambda mb: sft_step(s.model, mb),
                      s.save_final, title=f"sft {args.preset}", epoch_of=s.epoch_of)
    print(f"sft: {len(rows)} steps, final loss {rows[-1]['loss']:.4f}; model in {args.out / 'final'}")
    return 0
