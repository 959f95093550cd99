"""qa4d train p4d: SFT plus 4D-RGPT's perceptual distillation (P4D) from a frozen 4D teacher,
optionally with the timestamp positional encoding (TPE).

Reads:  --dataset DS, --model-path M   as `qa4d train sft` (same flags and presets)
        --teacher T     a `qa4d train teacher` output, or python:MODULE:CALLABLE (see qa4d.nn.teacher);
                        the teacher sees each sample's frames (resized to its input size) and gives
                        the latent and per-modality targets; it needs no scenes.
Writes: --out RUN       log.jsonl (step, loss, sft, ld, ed_depth, ed_flow, ed_motion, ed_camray, lr),
                        loss.png, checkpoints/ (model, decoder, optimiser; rerun to resume), and final/:
                        a plain VLM (the decoder is training-only) + qa4d_tpe.json with --tpe, which
                        `qa4d eval --model hf --model-path RUN/final` applies at inference.

Loss: L = sft + alpha * ld + beta * (1.0 ed_depth + 0.1 ed_flow + 0.05 ed_motion + 0.05 ed_camray)
(Smooth-L1 terms; see qa4d.train.p4d_losses). The logged ed_* are unweighted. With --alpha 0
--beta 0 the run is exactly `qa4d train sft` (the terms are logged, not trained on).
Open choices, as flags: --hidden-layer (default -1: the last), --grid-map (bilinear), TPE formula
(sinusoid of the timestamp in seconds, base 10,000, --tpe-scale), decoder width (--decoder-hidden).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qa4d.train.sft import add_common_arguments

    add_common_arguments(parser)
    add_p4d_arguments(parser)


def add_p4d_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--teacher", required=True, metavar="T", help="teacher directory or python:MODULE:CALLABLE")
    parser.add_argument("--alpha", type=float, default=0.5, help="weight of the latent distillation (default 0.5)")
    parser.add_argument("--beta", type=float, default=0.1, help="weight of the explicit distillation (default 0.1)")
    parser.add_argument("--hidden-layer", type=int, default=-1,
                        help="LLM hidden state distilled (index into hidden_states; default -1, the last)")
    parser.add_argument("--decoder-hidden", type=int, default=2560, help="width of the 3-layer decoder (default 2560)")
    parser.add_argument("--grid-map", choices=["bilinear", "nearest"], default="bilinear",
                        help="resizing of a frame's token grid to the teacher's latent grid (default bilinear)")
    parser.add_argument("--tpe", action="store_true", help="add the timestamp positional encoding to visual tokens")
    parser.add_argument("--tpe-base", type=float, default=10000.0, help="TPE constant (default 10,000)")
    parser.add_argument("--tpe-scale", type=float, default=1.0, help="TPE amplitude (default 1)")


class P4D:
    """The P4D step on top of an SFT setup: teacher targets, decoder, losses."""

    def __init__(self, setup, args: argparse.Namespace):
        import torch

        from qa4d.nn.teacher import load_teacher
        from qa4d.train.p4d_losses import PerceptionDecoder

        self.s, self.args = setup, args
        self.teacher = load_teacher(args.teacher)
        config = setup.hf.model.config
        self.image_token_id = int(config.image_token_id)
        self.merge = int(config.vision_config.spatial_merge_size)
        hidden = int(config.text_config.hidden_size)
        self.device = setup.hf.device
        self.decoder = PerceptionDecoder(hidden, int(self.teacher.latent_dim), args.decoder_hidden).to(self.device)
        if hasattr(self.teacher, "to"):
            self.teacher.to(self.device)
        self.tpe = None
        if args.tpe:
            from qa4d.nn.tpe import attach_tpe

            self.tpe = attach_tpe(setup.model, hidden, args.tpe_base, args.tpe_scale)
        self.cache: dict[int, Any] = {}
        self.torch = torch

    def teacher_targets(self, images) -> tuple[Any, dict[str, Any]]:
        from qa4d.nn.teacher import frames_tensor

        with self.torch.no_grad():
            latent = self.teacher.encode(frames_tensor(images, int(self.teacher.input_size)).to(self.device))
            return latent, self.teacher.predict(latent)

    def step(self, batch: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        from qa4d.train import vlm
        from qa4d.train.p4d_losses import (ED_WEIGHTS, explicit_distillation, frame_token_grids, latent_distillation,
                                           to_teacher_grid)

        if self.tpe is not None:
            self.tpe.set_timestamps(batch["timestamps"])
        out = vlm.forward(self.s.model, batch, hidden=True)
        sft = vlm.answer_loss(out.logits, batch["labels"])
        terms: dict[str, Any] = {"sft": sft.detach()}
        grids = []
        if "image_grid_thw" in batch:
            hidden = out.hidden_states[self.args.hidden_layer]
            grids = frame_token_grids(hidden, batch["input_ids"], self.image_token_id, batch["image_grid_thw"],
                                      self.merge)
        ld_sum, ed_sum, ed_terms, k, n_clips = 0.0, 0.0, {m: 0.0 for m in ED_WEIGHTS}, 0, 0
        for images in batch["clips"]:
            if not images:
                continue
            t_latent, t_out = self.teacher_targets(images)
            decoded = [self.decoder(g.float()) for g in grids[k:k + len(images)]]   # float32 decoder
            k += len(images)
            s_latent = to_teacher_grid(decoded, tuple(t_latent.shape[-2:]), self.args.grid_map)
            ld_sum = ld_sum + latent_distillation(s_latent, t_latent)
            ed, per = explicit_distillation(self.teacher.predict(s_latent), t_out)
            ed_sum = ed_sum + ed
            for m in per:
                ed_terms[m] = ed_terms[m] + per[m]
            n_clips += 1
        loss = sft
        if n_clips:
            ld, ed = ld_sum / n_clips, ed_sum / n_clips
            # zero weights leave the loss (and so every gradient) exactly that of SFT
            if self.args.alpha:
                loss = loss + self.args.alpha * ld
            if self.args.beta:
                loss = loss + self.args.beta * ed
            terms["ld"] = ld.detach()
            terms.update({f"ed_{m}": (v / n_clips).detach() for m, v in ed_terms.items()})
        else:
            terms.update({"ld": 0.0, **{f"ed_{m}": 0.0 for m in ED_WEIGHTS}})
        return loss, terms

    def describe(self) -> dict[str, Any]:
        a = self.args
        return {"teacher": str(a.teacher), "alpha": a.alpha, "beta": a.beta, "hidden_layer": a.hidden_layer,
                "decoder_hidden": a.decoder_hidden, "grid_map": a.grid_map, "tpe": a.tpe,
                "tpe_base": a.tpe_base, "tpe_scale": a.tpe_scale}


def save_final(setup, p4d: P4D, out) -> None:
    from qa4d._io import write_json_atomic
    from qa4d.nn.tpe import TPE_FILE

    if p4d.tpe is not None:
        p4d.tpe.remove()                              # the saved model is plain; the file brings TPE back
    setup.save_final(out, {"p4d": p4d.describe()})
    if p4d.tpe is not None:
        write_json_atomic(out / TPE_FILE, p4d.tpe.describe())


def run(args: argparse.Namespace) -> int:
    from qa4d.train import loop
    from qa4d.train.sft import Setup

    s = Setup(args, "p4d")
    p = P4D(s, args)
    s.run_args["p4d"] = p.describe()
    loop.check_run_args(args.out, s.run_args)
    rows = loop.train(s.loop_config, {"model": s.model, "decoder": p.decoder}, s.micro_batches, p.step,
                      lambda out: save_final(s, p, out), title=f"p4d{' +tpe' if args.tpe else ''}", epoch_of=s.epoch_of)
    print(f"p4d: {len(rows)} steps, final loss {rows[-1]['loss']:.4f}; model in {args.out / 'final'}")
    return 0
