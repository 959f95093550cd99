"""qa4d train geo: the 4D VLM of 4DP-QA, a VLM with a frozen geometry encoder whose projected
features are interleaved with each frame's visual tokens (qa4d.nn.geo), trained in two stages.

  --stage 1   everything frozen except the geometry projector (4DP-QA: 1.5K iterations, 200K random QA);
              --teacher T gives the geometry encoder (a `qa4d train teacher` output).
  --stage 2   the LLM, the vision projector and the geometry projector train; the vision encoder and
              the geometry encoder stay frozen (4DP-QA: 3.1K iterations, the full set);
              --model-path is stage 1's RUN/final (it carries the encoder and the projector).
Reads:  --dataset DS, --model-path M (as `qa4d train sft`), --teacher T (stage 1).
Writes: --out RUN   log.jsonl (step, loss, sft, lr), loss.png, checkpoints/, and final/: the VLM with
                    the added <|geo_pad|> token, plus qa4d_geo/ (encoder, projector, geo.json), which
                    `qa4d eval --model hf --model-path RUN/final` loads and applies by itself.
Other flags as `qa4d train sft` (--freeze and --lora-rank are set by the stage).
"""

from __future__ import annotations

import argparse
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from qa4d.train.sft import add_common_arguments

    add_common_arguments(parser)
    parser.add_argument("--stage", type=int, choices=[1, 2], required=True, help="1: geometry projector; 2: LLM + projectors")
    parser.add_argument("--teacher", metavar="T", help="stage 1: the geometry encoder (`qa4d train teacher` output)")
    parser.add_argument("--geo-grid", type=int, default=2, help="geometry tokens per frame = g x g (default 2)")


def run(args: argparse.Namespace) -> int:
    from qa4d.nn.geo import GEO_DIR, GeoAdapter
    from qa4d.nn.teacher import load_teacher
    from qa4d.train import loop
    from qa4d.train.sft import Setup, sft_step

    if args.freeze is not None or args.lora_rank:
        raise SystemExit("--freeze and --lora-rank are set by --stage for `qa4d train geo`")
    args.freeze = "vision,projector,llm" if args.stage == 1 else "vision"
    args.lora_rank = 0
    state: dict[str, Any] = {}

    def prepare(hf) -> None:
        if hf.geo is None:
            if args.stage == 2:
                raise SystemExit(f"--model-path {args.model_path}: stage 2 starts from stage 1's RUN/final "
                                 f"(no {GEO_DIR}/ there)")
            if not args.teacher:
                raise SystemExit("--stage 1 needs --teacher T (the geometry encoder)")
            hidden = int(hf.model.config.text_config.hidden_size)
            hf.geo = GeoAdapter(load_teacher(args.teacher), hidden, args.geo_grid).to(hf.device)
            hf.geo.attach(hf.model, hf.tokenizer)
        elif args.stage == 1 and args.teacher:
            raise SystemExit(f"--model-path {args.model_path} already has geometry tokens: use --stage 2")
        state["geo"] = hf.geo

    s = Setup(args, f"geo{args.stage}", {"stage": args.stage, "teacher": args.teacher, "geo_grid": args.geo_grid},
              prepare_model=prepare)
    geo = state["geo"]
    for p in geo.teacher.parameters():
        p.requires_grad = False

    def step(batch):
        geo.stage_clips(batch["clips"])
        return sft_step(s.model, batch)

    def save_final(out):
        s.save_final(out, {"geo": geo.describe()})
        geo.save(out / GEO_DIR)

    loop.check_run_args(args.out, s.run_args)
    rows = loop.train(s.loop_config, {"model": s.model, "geo_projector": geo.projector}, s.micro_batches, step,
                      save_final, title=f"geo stage {args.stage}", epoch_of=s.epoch_of)
    print(f"geo stage {args.stage}: {len(rows)} steps, final loss {rows[-1]['loss']:.4f}; model in {args.out / 'final'}")
    return 0
