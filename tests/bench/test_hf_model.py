"""`--model hf` on a tiny, randomly initialised Qwen2.5-VL built here by `qa4d train tiny-model`
(qa4d.train.tiny_model): a BPE tokenizer trained locally with Qwen's special tokens and a chat
template, a Qwen2-VL image processor built from arguments, a 2-layer vision tower and a 2-layer
language model), and on its Qwen2-VL twin (`--arch qwen2_vl`). No downloads."""

from __future__ import annotations

import builtins
import json

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from qa4d.bench.models.base import ModelConfigError  # noqa: E402
from qa4d.bench.models.hf import HFModel  # noqa: E402

from qa4d.train.tiny_model import MERGE, PATCH, QWEN_SPECIAL as SPECIAL  # noqa: E402

from .mrope import expected_mrope  # noqa: E402


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory):
    """The model `qa4d train tiny-model` builds (byte-level BPE with Qwen's special tokens and chat
    template, a Qwen2-VL image processor of 56x56..112x112 pixels, 2 vision blocks, 2 LLM layers)."""
    from transformers import AutoImageProcessor, AutoTokenizer

    from qa4d.train.tiny_model import build_tiny_model

    out = build_tiny_model(tmp_path_factory.mktemp("tiny-qwen2.5-vl") / "model", seed=0)
    tok = AutoTokenizer.from_pretrained(out, local_files_only=True)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL}
    return out, ids, AutoImageProcessor.from_pretrained(out, local_files_only=True)


def frames(n: int, seed: int = 0, size=(40, 30)) -> list[Image.Image]:
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)) for _ in range(n)]


@pytest.fixture(scope="module")
def hf_model(tiny_qwen):
    return HFModel(tiny_qwen[0], device="cpu", max_new_tokens=6)


@pytest.fixture(scope="module", params=["qwen2_5_vl", "qwen2_vl"])
def any_qwen(request, tmp_path_factory):
    """HFModel on the tiny model of each Qwen architecture `qa4d train tiny-model --arch` builds."""
    from qa4d.train.tiny_model import build_tiny_model

    out = build_tiny_model(tmp_path_factory.mktemp(f"tiny-{request.param}") / "model", arch=request.param, seed=0)
    model = HFModel(out, device="cpu", max_new_tokens=6)
    assert model.model_type == request.param
    return model


def positions_seen_by_the_llm(model, inputs):
    """The position ids (3, B, L) the language model receives in a forward pass of `inputs`."""
    seen = []
    hook = model.model.model.language_model.register_forward_pre_hook(
        lambda mod, args, kwargs: seen.append(kwargs["position_ids"]), with_kwargs=True)
    try:
        with torch.inference_mode():
            logits = model.model(**inputs).logits
    finally:
        hook.remove()
    return seen[0], logits


# two items of 1 and 3 non-square frames (grids with h != w), left-padded to one length
MIXED_PROMPTS = ["Which way does the object move?", "Where?"]


def mixed_frames():
    return [frames(1, seed=7, size=(90, 40)), frames(3, seed=8, size=(40, 100))]


def test_position_ids_are_the_multimodal_ones(any_qwen):
    inputs = any_qwen.prepare_batch(MIXED_PROMPTS, mixed_frames())
    image_id = any_qwen.model.config.image_token_id
    grids = inputs["image_grid_thw"]
    assert (grids[:, 1] != grids[:, 2]).all()                      # h != w: rows and columns are told apart
    seen, _ = positions_seen_by_the_llm(any_qwen, inputs)
    want = torch.tensor(expected_mrope(inputs["input_ids"], inputs["attention_mask"], grids, image_id, MERGE))
    mask = inputs["attention_mask"].bool()
    assert seen is not None, "no position ids: the language model falls back to plain 1-D positions"
    assert seen.shape == want.shape
    assert (seen[:, mask] == want[:, mask]).all()
    # the processor's token types: 1 exactly at the image placeholders, 0 elsewhere
    assert (inputs["mm_token_type_ids"] == (inputs["input_ids"] == image_id).long()).all()
    # and the model's own rule with the processor's inputs agrees
    own, _ = any_qwen.model.model.get_rope_index(inputs["input_ids"], inputs["mm_token_type_ids"], grids,
                                                   attention_mask=inputs["attention_mask"])
    assert (own[:, mask] == want[:, mask]).all()


def test_logits_are_those_of_the_multimodal_positions(any_qwen):
    inputs = any_qwen.prepare_batch(MIXED_PROMPTS, mixed_frames())
    mask = inputs["attention_mask"].bool()
    image_id = any_qwen.model.config.image_token_id
    want = torch.tensor(expected_mrope(inputs["input_ids"], inputs["attention_mask"], inputs["image_grid_thw"],
                                       image_id, MERGE))
    without_types = {k: v for k, v in inputs.items() if k != "mm_token_type_ids"}
    one_d = (inputs["attention_mask"].cumsum(-1) - 1).clamp(min=0)     # plain 1-D positions, (B, L)
    with torch.inference_mode():
        got = any_qwen.model(**inputs).logits
        reference = any_qwen.model(**without_types, position_ids=want).logits
        plain = any_qwen.model(**without_types, position_ids=one_d).logits
    assert torch.allclose(got[mask], reference[mask], atol=1e-6)
    assert (got[mask] - plain[mask]).abs().max() > 1e-3           # measured: ~5e-3 on these random weights
    # the old inputs (no mm_token_type_ids): Qwen2.5-VL silently falls back to 1-D positions, Qwen2-VL refuses
    if any_qwen.model_type == "qwen2_vl":
        with pytest.raises(ValueError, match="mm_token_type_ids"), torch.inference_mode():
            any_qwen.model(**without_types)
    else:
        with torch.inference_mode():
            old = any_qwen.model(**without_types).logits
        assert (got[mask] - old[mask]).abs().max() > 1e-3


@pytest.mark.parametrize("n_images", [1, 3])
def test_image_tokens_match_the_images_given(hf_model, tiny_qwen, n_images):
    _, ids, image_processor = tiny_qwen
    imgs = frames(n_images, size=(40 + 30 * n_images, 30))
    inputs = hf_model.prepare("Which way does the object move?", imgs)
    input_ids = inputs["input_ids"][0].tolist()
    # expected from the image processor alone: merged patches of each resized image
    grids = image_processor(images=imgs, return_tensors="pt")["image_grid_thw"]
    want = sum(int(g.prod()) // MERGE**2 for g in grids)
    assert input_ids.count(ids["<|image_pad|>"]) == want > 0
    assert input_ids.count(ids["<|vision_start|>"]) == input_ids.count(ids["<|vision_end|>"]) == n_images
    assert inputs["pixel_values"].shape[0] == int(grids.prod(dim=1).sum())
    assert inputs["image_grid_thw"].shape == (n_images, 3)


def test_generation_is_the_models_greedy_continuation(any_qwen):
    hf_model = any_qwen
    imgs = frames(2, seed=1)
    prompt = "Which way does the object move? A. left B. right"
    inputs = hf_model.prepare(prompt, imgs)
    input_ids, new = hf_model.generate_ids(prompt, imgs)
    assert 1 <= len(new) <= 6
    # redo the decoding by hand: full forward passes, argmax of the last position each step
    seq, types = inputs["input_ids"], inputs["mm_token_type_ids"]
    extra = {k: v for k, v in inputs.items() if k not in ("input_ids", "attention_mask", "mm_token_type_ids")}
    with torch.inference_mode():
        for step, tok_id in enumerate(new.tolist()):
            logits = hf_model.model(input_ids=seq, attention_mask=torch.ones_like(seq), mm_token_type_ids=types,
                                    **extra).logits
            assert int(logits[0, -1].argmax()) == tok_id, f"step {step}"
            seq = torch.cat([seq, torch.tensor([[tok_id]])], dim=1)
            types = torch.cat([types, torch.zeros((1, 1), dtype=types.dtype)], dim=1)   # generated text
    text = hf_model.generate(prompt, imgs, item=None)
    assert text == hf_model.tokenizer.decode(new, skip_special_tokens=True).strip()
    # the frames reach the model: other pixels give other first-step logits
    with torch.inference_mode():
        other = hf_model.prepare(prompt, frames(2, seed=2))
        a = hf_model.model(**inputs).logits[0, -1]
        b = hf_model.model(**other).logits[0, -1]
    assert not torch.allclose(a, b)


def test_eval_cli_with_hf_model(tiny_qwen, tmp_path):
    from qa4d.cli import main

    root = tmp_path / "ds"
    (root / "bench").mkdir(parents=True)
    (root / "f").mkdir()
    media = []
    for i, im in enumerate(frames(3, seed=5)):
        im.save(root / f"f/{i}.png")
        media.append(f"f/{i}.png")
    with open(root / "bench/samples.jsonl", "w") as f:
        for i in range(3):
            f.write(json.dumps({"id": f"s{i}", "family": "4dpqa", "task": "camera_movement", "category": "c",
                                "scene_id": "x", "media": media, "frame_indices": [0, 1, 2],
                                "timestamps": [0.0, 0.1, 0.2], "question": "Where does the camera move?",
                                "options": {"A": "left", "B": "right"}, "answer": "A", "answer_format": "mc",
                                "meta": {"objects": [], "measurement": None}}) + "\n")
    run = tmp_path / "run"
    code = main(["eval", "--benchmark", str(root / "bench"), "--model", "hf", "--model-path", str(tiny_qwen[0]),
                 "--max-new-tokens", "4", "--device", "cpu", "--frames", "2", "--out", str(run)])
    assert code == 0
    preds = [json.loads(x) for x in (run / "predictions.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in preds) == ["s0", "s1", "s2"] and all(isinstance(p["response"], str) for p in preds)
    info = json.loads((run / "run.json").read_text())
    assert info["model_info"]["model_type"] == "qwen2_5_vl" and info["model_info"]["device"] == "cpu"
    assert json.loads((run / "metrics.json").read_text())["overall"]["n"] == 3


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ModelConfigError, match="not a directory"):
        HFModel(tmp_path / "nope")
    with pytest.raises(ModelConfigError, match="no config.json"):
        HFModel(tmp_path)
    real_import = builtins.__import__

    def no_torch(name, *a, **k):
        if name == "torch":
            raise ImportError("No module named 'torch'", name="torch")
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(ModelConfigError, match=r"torch is missing\): pip install -e '\.\[hf\]'"):
        HFModel(tmp_path)


def test_max_pixels_caps_the_image_tokens(tiny_qwen, hf_model):
    _, ids, _ = tiny_qwen
    big = frames(1, size=(200, 150))
    full = hf_model.prepare("q", big)["input_ids"][0].tolist().count(ids["<|image_pad|>"])
    capped_model = HFModel(tiny_qwen[0], device="cpu", max_new_tokens=2, max_pixels=56 * 56)
    capped = capped_model.prepare("q", big)["input_ids"][0].tolist().count(ids["<|image_pad|>"])
    # each token covers MERGE^2 patches of PATCH^2 pixels: the resized frame fits the budget
    assert 0 < capped * MERGE**2 * PATCH**2 <= 56 * 56 and capped < full


def test_batched_greedy_equals_one_by_one(any_qwen):
    model = HFModel(any_qwen.path, device="cpu", max_new_tokens=8)
    # different frame counts and sizes and prompt lengths: the rows really are padded
    prompts = ["Which way does the object move? A. left B. right", "Where?", "Which way? Answer with the letter.", "q"]
    images = [frames(1, seed=3), frames(3, seed=4, size=(70, 30)), [], frames(2, seed=6, size=(30, 60))]
    batch = model.prepare_batch(prompts, images)
    mask = batch["attention_mask"]
    lengths = mask.sum(dim=1).tolist()
    assert len(set(lengths)) == 4                                    # four different prompt lengths
    assert mask[:, -1].all() and not mask[:, 0].all()                # left padding: real tokens at the end
    pad = model.tokenizer.pad_token_id
    assert all((batch["input_ids"][i, : mask.shape[1] - n] == pad).all() for i, n in enumerate(lengths))
    batched = [ids.tolist() for ids in model.generate_ids_batch(prompts, images)]
    single = [model.generate_ids(p, im)[1].tolist() for p, im in zip(prompts, images)]
    assert batched == single and all(len(s) >= 1 for s in single)
    texts = model.generate_batch(prompts, images, [None] * 4)
    assert texts == [model.generate(p, im, None) for p, im in zip(prompts, images)]


class _Interrupting:
    """Forwards to the hf model; the k-th generate_batch call behaves like Ctrl-C."""

    def __init__(self, inner, k):
        self.inner, self.k, self.batches = inner, k, []

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def generate_batch(self, prompts, images, items):
        if len(self.batches) + 1 == self.k:
            raise KeyboardInterrupt
        self.batches.append([it.id for it in items])
        return self.inner.generate_batch(prompts, images, items)


def test_batched_run_resumes_and_matches_one_by_one(tiny_qwen, tmp_path):
    from qa4d.bench.runner import RunInterrupted, run_model

    from .tiny_bench import TinyBench, make_items, read_lines

    model = HFModel(tiny_qwen[0], device="cpu", max_new_tokens=5)
    items = make_items(tmp_path, 7, n_frames=3)
    for i, it in enumerate(items):
        it.media = it.media[: 1 + i % 3]                          # 1-3 frames: rows of different lengths
    bench = TinyBench(items)
    run = tmp_path / "run"
    wrapped = _Interrupting(model, k=2)
    with pytest.raises(RunInterrupted):
        run_model(bench, items, wrapped, run, media_root=tmp_path, frames=None, batch_size=3, progress=False)
    assert wrapped.batches == [["q0", "q1", "q2"]]
    assert [p["id"] for p in read_lines(run / "predictions.jsonl")] == ["q0", "q1", "q2"]
    again = _Interrupting(model, k=None)
    res = run_model(bench, items, again, run, media_root=tmp_path, frames=None, batch_size=3, progress=False)
    assert again.batches == [["q3", "q4", "q5"]] and res.skipped == 3 and res.answered == 7  # q6 alone: generate
    got = {p["id"]: p["response"] for p in read_lines(run / "predictions.jsonl")}
    assert len(read_lines(run / "predictions.jsonl")) == 7
    # the same answers as asking one item at a time
    ref = tmp_path / "ref"
    run_model(bench, items, model, ref, media_root=tmp_path, frames=None, progress=False)
    assert got == {p["id"]: p["response"] for p in read_lines(ref / "predictions.jsonl")}


def test_chat_template_from_chat_template_json(tiny_qwen, tmp_path, hf_model):
    """A checkpoint whose chat template is only in chat_template.json (the processor's file) gets it."""
    import shutil

    d = tmp_path / "m"
    shutil.copytree(tiny_qwen[0], d)
    template = (d / "chat_template.jinja").read_text()
    (d / "chat_template.jinja").unlink()
    (d / "chat_template.json").write_text(json.dumps({"chat_template": template}))
    model = HFModel(d, device="cpu", max_new_tokens=2)
    assert model.chat_text("Which way?", 2) == hf_model.chat_text("Which way?", 2)
    (d / "chat_template.json").write_text(json.dumps({"template": template}))
    with pytest.raises(ModelConfigError, match=r"chat_template\.json: no readable chat_template field"):
        HFModel(d, device="cpu", max_new_tokens=2)
