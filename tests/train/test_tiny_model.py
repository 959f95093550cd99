"""`qa4d train tiny-model`: a real Qwen2.5-VL directory, built locally, reproducible, loadable by
`qa4d eval --model hf`."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


def test_tiny_model_is_a_loadable_qwen2_5_vl(tiny_model):
    from qa4d.bench.models.hf import HFModel
    from qa4d.train.tiny_model import QWEN_SPECIAL

    config = json.loads((tiny_model / "config.json").read_text())
    assert config["model_type"] == "qwen2_5_vl"
    model = HFModel(tiny_model, device="cpu", max_new_tokens=3)
    tok = model.tokenizer
    # the special tokens are single tokens, the ones the config names
    ids = [tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL]
    assert len(set(ids)) == len(QWEN_SPECIAL) and tok.unk_token_id not in ids
    assert config["image_token_id"] == tok.convert_tokens_to_ids("<|image_pad|>")
    text = model.chat_text("Which way?", 2)
    assert text.count("<|vision_start|><|image_pad|><|vision_end|>") == 2 and text.endswith("<|im_start|>assistant\n")
    # any text round-trips through the byte-level BPE, words outside the corpus too
    s = "Zebra 3.14 metres -> ünïcode"
    assert tok.decode(tok(s, add_special_tokens=False)["input_ids"]) == s


def test_same_seed_same_weights_other_seed_other_weights(tmp_path, tiny_model):
    from qa4d.cli import main

    assert main(["train", "tiny-model", "--out", str(tmp_path / "a"), "--seed", "0"]) == 0
    assert main(["train", "tiny-model", "--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    same = (tmp_path / "a" / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    other = (tmp_path / "b" / "model.safetensors").read_bytes() != (tiny_model / "model.safetensors").read_bytes()
    assert same and other
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tiny_model / "tokenizer.json").read_text()
