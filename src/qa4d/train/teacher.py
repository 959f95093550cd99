"""qa4d train teacher: train a small 4D perception model (the role of L4P) on scenes' ground truth.

Reads:  --scenes DIR    scene directories (format v1) with depth, instance_mask and object poses;
                        the targets are exact (qa4d.train.targets): depth, optical flow to the
                        next clip frame, motion mask, camera rays (Plücker, first clip camera).
Writes: --out T         log.jsonl (step, loss, depth, flow, motion, camray, lr), loss.png,
                        checkpoints/ (rerun to resume), train.json, and final/ (teacher.json +
                        teacher.pt), the --teacher of `qa4d train p4d` and `qa4d train geo`.

Training clips are --clip-frames frames --clip-stride apart (every start of every scene), in a
seeded order. Frames and targets are resized to --input-size (nearest for targets; flow is
rescaled to the new pixels). Losses: Smooth-L1 of log-depth (valid depth), Smooth-L1 of flow in
pixels and binary cross-entropy of the motion mask (valid flow: a surface that stays in front of
the next camera; the last clip frame has none), Smooth-L1 of the rays; the total is their sum.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scenes", required=True, type=Path, metavar="DIR", help="directory of scene directories")
    parser.add_argument("--out", required=True, type=Path, metavar="T", help="run directory (resumes if it exists)")
    parser.add_argument("--input-size", type=int, default=64, help="frames are resized to S x S (default 64)")
    parser.add_argument("--patch", type=int, default=8, help="patch size: latent grid S/P x S/P (default 8)")
    parser.add_argument("--dim", type=int, default=32, help="latent channels (default 32)")
    parser.add_argument("--clip-frames", type=int, default=4, help="frames per training clip (default 4)")
    parser.add_argument("--clip-stride", type=int, default=2, help="scene frames between clip frames (default 2)")
    parser.add_argument("--motion-eps", type=float, default=1e-3, help="metres a point must move to count as moving")
    parser.add_argument("--max-steps", type=int, default=None, help="optimiser steps (default: --epochs over the clips)")
    parser.add_argument("--epochs", type=float, default=1.0, help="passes over the clips (default 1)")
    parser.add_argument("--batch-size", type=int, default=2, help="clips per step (default 2)")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3, cosine)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and the clip order (default 0)")
    parser.add_argument("--save-every", type=int, default=50, help="checkpoint every N steps (default 50)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")


def _resize_nearest(a: np.ndarray, size: int) -> np.ndarray:
    """(T, H, W, ...) -> (T, size, size, ...) sampling the pixel nearest each new pixel centre."""
    h, w = a.shape[1], a.shape[2]
    rows = np.minimum(((np.arange(size) + 0.5) * h / size).astype(int), h - 1)
    cols = np.minimum(((np.arange(size) + 0.5) * w / size).astype(int), w - 1)
    return a[:, rows][:, :, cols]


class Clips:
    """Every (scene, start) clip of the scenes, its frames and targets at the teacher's size."""

    def __init__(self, scenes_dir: Path, frames: int, stride: int, size: int, eps: float, device: str = "cpu"):
        from qa4d.scene.format import SceneError, iter_scene_dirs, load_scene

        self.size, self.eps, self.frames, self.stride, self.device = size, eps, frames, stride, device
        self.scenes, self.clips = [], []
        for d in iter_scene_dirs(scenes_dir):
            try:
                scene = load_scene(d)
            except SceneError as e:
                print(f"skipping {d}: {e}")
                continue
            if not (scene.has("depth") and scene.has("instance_mask")):
                print(f"skipping {d}: no depth or instance_mask array")
                continue
            span = (frames - 1) * stride + 1
            for start in range(0, scene.num_frames - span + 1):
                self.clips.append((len(self.scenes), start))
            self.scenes.append(scene)
        if not self.clips:
            raise SystemExit(f"--scenes {scenes_dir}: no scene with depth and instance masks and "
                             f"{(frames - 1) * stride + 1} frames")
        self.cache: dict[int, dict[str, Any]] = {}

    def get(self, i: int) -> dict[str, Any]:
        import torch

        from qa4d.nn.teacher import frames_tensor
        from qa4d.train.targets import scene_targets

        if i in self.cache:
            return self.cache[i]
        s, start = self.clips[i]
        scene = self.scenes[s]
        idx = np.arange(start, start + self.frames * self.stride, self.stride)
        tg = scene_targets(scene, idx, self.eps)
        h, w = scene.meta.height, scene.meta.width
        r = {k: _resize_nearest(v, self.size) for k, v in tg.items()}
        r["flow"] = r["flow"] * np.array([self.size / w, self.size / h])
        to = lambda a, chan_last=True: torch.from_numpy(np.ascontiguousarray(  # noqa: E731
            np.moveaxis(a, -1, 1) if chan_last else a[:, None])).float()
        out = {"frames": frames_tensor([scene.frame(int(t)) for t in idx], self.size),
               "depth": to(r["depth"], False), "flow": to(r["flow"]), "motion": to(r["motion"], False),
               "camray": to(r["camray"]), "valid_depth": torch.from_numpy(r["valid_depth"][:, None]),
               "valid_flow": torch.from_numpy(r["valid_flow"][:, None])}
        out = {k: v.to(self.device) for k, v in out.items()}
        self.cache[i] = out
        return out


def _masked_mean(x, mask):
    m = mask.expand_as(x).float()
    return (x * m).sum() / m.sum().clamp(min=1.0)


def teacher_losses(model, clip: dict[str, Any]) -> dict[str, Any]:
    """Per-modality losses of one clip (each a scalar tensor)."""
    import torch.nn.functional as F

    raw = model.raw(model.encode(clip["frames"]))
    vd, vf = clip["valid_depth"], clip["valid_flow"]
    log_depth = clip["depth"].clamp(min=1e-3).log()
    return {
        "depth": _masked_mean(F.smooth_l1_loss(raw["depth"], log_depth, reduction="none"), vd),
        "flow": _masked_mean(F.smooth_l1_loss(raw["flow"], clip["flow"], reduction="none"), vf),
        "motion": _masked_mean(F.binary_cross_entropy_with_logits(raw["motion"], clip["motion"], reduction="none"), vf),
        "camray": F.smooth_l1_loss(raw["camray"], clip["camray"]),
    }


def run(args: argparse.Namespace) -> int:
    import torch

    from qa4d.nn.teacher import Teacher, TeacherConfig, save_teacher
    from qa4d.train import data, loop

    if args.threads:
        torch.set_num_threads(args.threads)
    loop.seed_everything(args.seed)
    clips = Clips(args.scenes, args.clip_frames, args.clip_stride, args.input_size, args.motion_eps, args.device)
    model = Teacher(TeacherConfig(args.input_size, args.patch, args.dim)).to(args.device)
    n = len(clips.clips)
    steps = args.max_steps or max(1, math.ceil(args.epochs * n / args.batch_size))
    run_args = {"kind": "teacher", "scenes": str(args.scenes.resolve()), "steps": steps, "clips": n,
                **{k: getattr(args, k) for k in ("input_size", "patch", "dim", "clip_frames", "clip_stride",
                                                 "motion_eps", "batch_size", "lr", "seed")}}
    loop.check_run_args(args.out, run_args)

    def micro_batches(step: int):
        idx = data.positions_to_indices(range(step * args.batch_size, (step + 1) * args.batch_size), n, args.seed)
        return [[clips.get(i) for i in idx]]

    def step_loss(batch):
        terms = [teacher_losses(model, clip) for clip in batch]
        mean = {k: sum(t[k] for t in terms) / len(terms) for k in terms[0]}
        return sum(mean.values()), mean

    cfg = loop.LoopConfig(out=args.out, steps=steps, lr=args.lr, save_every=args.save_every, seed=args.seed)
    rows = loop.train(cfg, {"teacher": model}, micro_batches, step_loss, lambda out: save_teacher(model, out),
                      title="teacher", epoch_of=lambda s: round(s * args.batch_size / n, 4))
    print(f"teacher: {len(rows)} steps on {n} clips, final loss {rows[-1]['loss']:.4f}; model in {args.out / 'final'}")
    return 0
