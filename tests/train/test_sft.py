"""`qa4d train sft`: answer-only labels, the loss formula, the recipe, the tracking mix, seeds,
resume after SIGKILL, and a final/ checkpoint that `qa4d eval --model hf` runs."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from .tiny_data import make_dataset  # noqa: E402

SRC = str(Path(__file__).resolve().parents[2] / "src")


def log_rows(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]


def sft(dataset, model, out, *extra) -> int:
    from qa4d.cli import main

    return main(["train", "sft", "--dataset", str(dataset), "--model-path", str(model), "--out", str(out),
                 "--threads", "1", *map(str, extra)])


def test_only_the_answer_tokens_are_supervised(tiny_model, tiny_dataset):
    from qa4d.train import data, vlm

    hf = vlm.load_vlm(tiny_model)
    enc = data.Encoder(hf)
    ex = data.read_examples(tiny_dataset)[3]                     # a free answer of several words
    assert ex.answer == "the camera moves left" and len(ex.images) == 2
    e = enc.encode(ex)
    from PIL import Image
    prompt_ids = hf.prepare(ex.prompt, [Image.open(p).convert("RGB") for p in ex.images])["input_ids"][0].tolist()
    answer_ids = hf.tokenizer("the camera moves left", add_special_tokens=False)["input_ids"]
    end = hf.tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert e["input_ids"] == prompt_ids + answer_ids + [end]
    supervised = [i for i, lab in enumerate(e["labels"]) if lab != -100]
    assert supervised == list(range(len(prompt_ids), len(prompt_ids) + len(answer_ids) + 1))
    assert hf.tokenizer.decode([e["labels"][i] for i in supervised]) == "the camera moves left<|im_end|>"
    # the prompt is what qa4d eval asks: timestamps line, question, options, instruction
    assert ex.prompt.startswith("The frames were taken at 0.00, 0.50 seconds.\nHow does the camera move in clip 3?")
    batch = enc.collate([enc.encode(x) for x in data.read_examples(tiny_dataset)[:3]])
    lengths = batch["attention_mask"].sum(1).tolist()
    assert len(set(lengths)) > 1                                    # padded on the right, masked, unsupervised
    for i, n in enumerate(lengths):
        assert (batch["labels"][i, n:] == -100).all() and batch["attention_mask"][i, :n].all()


def test_training_forward_uses_the_multimodal_positions(tiny_model, tiny_dataset):
    """The training batch (right-padded, answers appended) carries the processor's token types, so
    the language model gets Qwen's M-RoPE positions, as in qa4d eval."""
    from qa4d.train import data, vlm
    from tests.bench.mrope import expected_mrope

    hf = vlm.load_vlm(tiny_model)
    enc = data.Encoder(hf)
    batch = enc.collate([enc.encode(x) for x in data.read_examples(tiny_dataset)[:3]])
    image_id = hf.model.config.image_token_id
    assert (batch["mm_token_type_ids"] == (batch["input_ids"] == image_id).long()).all()
    seen = []
    hook = hf.model.model.language_model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(kwargs["position_ids"]), with_kwargs=True)
    try:
        with torch.no_grad():
            vlm.forward(hf.model, batch)
    finally:
        hook.remove()
    want = torch.tensor(expected_mrope(batch["input_ids"], batch["attention_mask"], batch["image_grid_thw"],
                                       image_id, hf.model.config.vision_config.spatial_merge_size))
    mask = batch["attention_mask"].bool()
    assert seen[0] is not None and (seen[0][:, mask] == want[:, mask]).all()
    assert (want[1, mask] != want[2, mask]).any()                   # really 3-D: height and width differ


def test_answer_loss_is_the_mean_cross_entropy_of_the_supervised_next_tokens():
    from qa4d.train.vlm import answer_loss

    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7))
    labels = np.full((2, 5), -100)
    labels[0, 3], labels[0, 4], labels[1, 2] = 1, 6, 0       # predicted from positions (0,2), (0,3), (1,1)
    want = []
    for b, t in ((0, 3), (0, 4), (1, 2)):
        row = logits[b, t - 1]
        want.append(-(row[labels[b, t]] - np.log(np.exp(row).sum())))
    got = answer_loss(torch.tensor(logits), torch.tensor(labels))
    assert float(got) == pytest.approx(np.mean(want), rel=1e-6)


def test_lr_schedule_warm_up_then_cosine():
    from qa4d.train.loop import lr_factor

    # 100 steps, 3% warm-up: steps 0..2 ramp to 1, then half a cosine period to 0
    assert [lr_factor(s, 100, 0.03, "cosine") for s in range(3)] == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert lr_factor(3, 100, 0.03, "cosine") == pytest.approx(1.0)
    assert lr_factor(3 + 97 // 2, 100, 0.03, "cosine") == pytest.approx(0.5 * (1 + math.cos(math.pi * 48 / 97)))
    assert lr_factor(50, 100, 0.0, "constant") == 1.0


def test_tracking_share_replaces_standard_qa():
    from qa4d.train.data import Example, mix_tracking

    exs = [Example(f"s{i}", "t", "p", "a", [], None, tracking=i >= 40) for i in range(60)]  # 40 standard, 20 tracking
    mixed = mix_tracking(exs, 0.2, seed=0)
    assert len(mixed) == 40                                     # the number of samples stays that of the standard QA
    assert sum(e.tracking for e in mixed) == 8                  # 20% of it is tracking
    assert mix_tracking(exs, 0.2, seed=0) == mixed and mix_tracking(exs, 0.2, seed=1) != mixed
    assert len(mix_tracking(exs, None, 0)) == 60


def test_presets_set_the_papers_recipes_and_flags_override(tiny_model, tiny_dataset, tmp_path):
    import argparse

    from qa4d.train import sft as sft_mod

    p = argparse.ArgumentParser()
    sft_mod.add_arguments(p)
    base = ["--dataset", "d", "--model-path", "m", "--out", "o"]
    r = sft_mod.resolve(p.parse_args(base + ["--preset", "multispa"]), "qwen2_5_vl")
    assert (r["lora_rank"], r["lr"], r["freeze"], r["schedule"]) == (16, 4e-5, "vision,projector", "cosine")
    r = sft_mod.resolve(p.parse_args(base + ["--preset", "4dpqa"]), "nvila")
    assert (r["lr"], r["tracking_share"], r["freeze"], r["epochs"]) == (2e-5, 0.2, "vision", 1)
    r = sft_mod.resolve(p.parse_args(base + ["--preset", "4drgpt", "--lr", "3e-4"]), "qwen2_5_vl")
    assert (r["lr"], r["warmup_ratio"], r["epochs"]) == (3e-4, 0.03, 5)


def test_same_seed_same_losses_and_frozen_parts_stay(tiny_model, tiny_dataset, tmp_path):
    from safetensors.torch import load_file

    args = ["--max-steps", "4", "--batch-size", "2", "--grad-accum", "2", "--lr", "1e-3"]
    assert sft(tiny_dataset, tiny_model, tmp_path / "a", *args) == 0
    assert sft(tiny_dataset, tiny_model, tmp_path / "b", *args) == 0
    assert sft(tiny_dataset, tiny_model, tmp_path / "c", *args, "--seed", "1") == 0
    a, b, c = (log_rows(tmp_path / x) for x in "abc")
    assert [r["step"] for r in a] == [1, 2, 3, 4] and all(set(r) >= {"loss", "sft", "lr", "epoch"} for r in a)
    assert [r["loss"] for r in a] == [r["loss"] for r in b]
    assert [r["loss"] for r in a] != [r["loss"] for r in c]
    assert (tmp_path / "a/loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # default recipe: the vision encoder is frozen, the projector and the LLM train
    before, after = load_file(tiny_model / "model.safetensors"), load_file(tmp_path / "a/final/model.safetensors")
    # (saved under the checkpoint's key names: visual.*, model.layers.*, lm_head.*)
    vision = [k for k in before if k.startswith("visual.") and "merger" not in k]
    assert vision and all(torch.equal(before[k], after[k]) for k in vision)
    assert not torch.equal(before["visual.merger.mlp.0.weight"], after["visual.merger.mlp.0.weight"])
    assert not torch.equal(before["lm_head.weight"], after["lm_head.weight"])


def test_lora_preset_trains_adapters_and_saves_a_merged_plain_model(tiny_model, tiny_dataset, tmp_path):
    from safetensors.torch import load_file

    assert sft(tiny_dataset, tiny_model, tmp_path / "r", "--preset", "multispa", "--max-steps", "3",
               "--lora-rank", "4", "--lr", "1e-2") == 0
    before, after = load_file(tiny_model / "model.safetensors"), load_file(tmp_path / "r/final/model.safetensors")
    assert set(before) == set(after)                               # no adapter weights left: merged
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".layers." in k and "proj" in k and "visual" not in k for k in changed)
    info = json.loads((tmp_path / "r/final/qa4d_train.json").read_text())
    assert info["recipe"]["lora_rank"] == 4 and info["recipe"]["freeze"] == "vision,projector"


def test_resume_after_sigkill_gives_the_uninterrupted_losses(tiny_model, tiny_dataset, tmp_path):
    args = ["--max-steps", "24", "--lr", "1e-3", "--save-every", "3"]
    assert sft(tiny_dataset, tiny_model, tmp_path / "ref", *args) == 0
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "qa4d.cli", "train", "sft", "--dataset", str(tiny_dataset), "--model-path",
           str(tiny_model), "--out", str(run), "--threads", "1", *args]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = run / "log.jsonl"
    while proc.poll() is None and not (log.is_file() and len(log.read_text().splitlines()) >= 5):
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "the run finished before it could be killed"
    assert not (run / "final").exists()
    ckpts = sorted(p.name for p in (run / "checkpoints").iterdir() if p.name.startswith("step_"))
    assert ckpts and ckpts[-1] < "step_00000024"
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ref, got = log_rows(tmp_path / "ref"), log_rows(run)
    assert [r["step"] for r in got] == list(range(1, 25))
    assert [r["loss"] for r in got] == [r["loss"] for r in ref]
    assert (run / "final/model.safetensors").read_bytes() == (tmp_path / "ref/final/model.safetensors").read_bytes()


def test_resume_refuses_other_arguments(tiny_model, tiny_dataset, tmp_path):
    assert sft(tiny_dataset, tiny_model, tmp_path / "r", "--max-steps", "1") == 0
    with pytest.raises(SystemExit, match="other arguments"):
        sft(tiny_dataset, tiny_model, tmp_path / "r", "--max-steps", "1", "--lr", "1")


@pytest.mark.parametrize("arch", ["qwen2_5_vl", "qwen2_vl"])
def test_trained_final_checkpoint_answers_through_qa4d_eval(tiny_model, tmp_path, arch):
    """Every training answer is A: a few steps teach the tiny model (of each Qwen architecture) to
    answer A, which qa4d eval reads from RUN/final with no other code and scores against the bench's answers."""
    from qa4d.cli import main
    from qa4d.train.tiny_model import build_tiny_model

    if arch != "qwen2_5_vl":
        tiny_model = build_tiny_model(tmp_path / "model", arch=arch, seed=0)

    ds = make_dataset(tmp_path / "ds", n_train=4, n_bench=4)
    for split in ("train",):
        rows = [json.loads(x) for x in (ds / split / "samples.jsonl").read_text().splitlines()]
        for r in rows:
            r.update(answer="A", answer_format="mc", options={"A": "left", "B": "right", "C": "up", "D": "down"})
        (ds / split / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert sft(ds, tiny_model, tmp_path / "run", "--max-steps", "30", "--lr", "3e-3", "--schedule", "constant") == 0
    rows = log_rows(tmp_path / "run")
    assert rows[-1]["loss"] < 0.1 * rows[0]["loss"]
    code = main(["eval", "--benchmark", str(ds / "bench"), "--model", "hf", "--model-path", str(tmp_path / "run/final"),
                 "--device", "cpu", "--max-new-tokens", "4", "--out", str(tmp_path / "ev")])
    assert code == 0
    preds = [json.loads(x) for x in (tmp_path / "ev/predictions.jsonl").read_text().splitlines()]
    assert [p["response"] for p in preds] == ["A"] * 4
    metrics = json.loads((tmp_path / "ev/metrics.json").read_text())
    assert metrics["overall"]["accuracy"] == pytest.approx(0.5)   # bench answers alternate A, B
    assert json.loads((tmp_path / "ev/run.json").read_text())["model_info"]["model_type"] == arch


def test_bad_dataset_errors_name_the_file_and_field(tiny_model, tmp_path):
    with pytest.raises(SystemExit, match=r"train/samples.jsonl: no such file"):
        sft(tmp_path, tiny_model, tmp_path / "r")
    ds = make_dataset(tmp_path / "ds", n_train=2, n_bench=1)
    (ds / "media/train1/000001.jpg").unlink()
    with pytest.raises(SystemExit, match=r"samples.jsonl: 1 media files are missing, e.g. .*train1/000001.jpg"):
        sft(ds, tiny_model, tmp_path / "r")
    good = json.loads((ds / "train/samples.jsonl").read_text().splitlines()[0])
    bad = {**good, "answer_format": "mc", "options": {"A": "a", "B": "b"}, "answer": "Z"}
    (ds / "train/samples.jsonl").write_text(json.dumps(bad) + "\n")
    with pytest.raises(SystemExit, match=r"samples.jsonl.*line 1.*answer"):
        sft(ds, tiny_model, tmp_path / "r")
    with pytest.raises(SystemExit, match="--model-path .* no config.json"):
        sft(ds, tmp_path, tmp_path / "r")
