"""qa4d train tiny-model: a tiny, randomly initialised VLM of a real architecture, built locally.

Reads:  nothing (no download: the tokenizer is a byte-level BPE trained here on a small built-in
        corpus, the image processor is built from arguments, the weights are random).
Writes: --out DIR, a Hugging Face model directory: config.json, model.safetensors,
        tokenizer.json + tokenizer_config.json (with a chat template), preprocessor_config.json.

For smoke tests, CI and the CPU training demo: `qa4d train sft --model-path DIR` trains it and
`qa4d eval --model hf --model-path DIR` runs it like any checkpoint. Same --seed, same weights.
Architectures: qwen2_5_vl (Qwen2.5-VL) and qwen2_vl (Qwen2-VL), each with 2 vision blocks of
width 32 and 2 LLM layers of width 64.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

# arch name -> builder(out_dir, seed) -> None
ARCHS: dict[str, Callable[[Path, int], None]] = {}


def register_arch(name: str):
    def deco(fn):
        ARCHS[name] = fn
        return fn
    return deco


QWEN_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                "<|image_pad|>", "<|video_pad|>"]
# Qwen's chat layout: a system-free user turn with one <|vision_start|><|image_pad|><|vision_end|>
# per image entry, then the text; assistant turns end with <|im_end|>.
QWEN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}{% for p in m['content'] %}"
    "{% if p['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif p['type'] == 'text' %}{{ p['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# The words of qa4d's questions, options and answers, so the tiny tokenizer has merges for them
# (any text still tokenises: the BPE is byte-level).
CORPUS = (
    "The frames were taken at 0.00, 0.40, 1.25 seconds. In frame 2, which of the following objects is "
    "closest to the camera? Which way does the object move? How does the camera move? Is the distance "
    "between the camera and the object increasing, decreasing or constant? Does the object rotate "
    "clockwise, counterclockwise or not at all? left right up down forward backward towards away "
    "pan left pan right tilt up tilt down roll static stationary straight turn yes no "
    "Answer with the option's letter from the given choices directly. Answer with yes or no only. "
    "Answer with a short phrase only. A. B. C. D. the small blue cylinder the large red box the green "
    "sphere the object circled in red frame 6: (0.412, 0.233), visible; frame 2: occluded "
    "0 1 2 3 4 5 6 7 8 9 metres"
)
PATCH, MERGE = 14, 2


def build_qwen_tokenizer(vocab_size: int = 512):
    """A byte-level BPE with Qwen's special tokens and chat template (transformers fast tokenizer)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=QWEN_SPECIAL, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([CORPUS] * 10, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                   chat_template=QWEN_TEMPLATE)


def _text_config(tok, ids: dict[str, int]) -> dict:
    """The tiny language model of both Qwen archs: 2 layers of width 64, M-RoPE over 8 frequency pairs."""
    return dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])


def _save_qwen(out: Path, seed: int, model_cls, config_cls, vision: dict) -> None:
    """Build a tiny Qwen-VL of `model_cls` with `vision` as its vision config and save it in `out`
    with the tokenizer and a Qwen2-VL image processor (56x56 .. 112x112 pixels -> 4..16 tokens per frame)."""
    import torch
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    tok = build_qwen_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in QWEN_SPECIAL}
    image_processor = Qwen2VLImageProcessorPil(min_pixels=56 * 56, max_pixels=112 * 112, patch_size=PATCH,
                                               merge_size=MERGE, temporal_patch_size=2)
    config = config_cls(
        vision_config=dict(patch_size=PATCH, spatial_merge_size=MERGE, temporal_patch_size=2, **vision),
        text_config=_text_config(tok, ids),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(seed)
    model = model_cls(config)
    model.generation_config.eos_token_id = ids["<|im_end|>"]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    image_processor.save_pretrained(out)
    from qa4d.train.vlm import share_files

    share_files(out)


@register_arch("qwen2_5_vl")
def build_qwen2_5_vl(out: Path, seed: int = 0) -> None:
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    _save_qwen(out, seed, Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLConfig,
               dict(depth=2, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64,
                    window_size=56, fullatt_block_indexes=[1]))


@register_arch("qwen2_vl")
def build_qwen2_vl(out: Path, seed: int = 0) -> None:
    from transformers import Qwen2VLConfig, Qwen2VLForConditionalGeneration

    # Qwen2-VL's vision tower: embed_dim is its width, hidden_size the LLM width its merger projects to
    _save_qwen(out, seed, Qwen2VLForConditionalGeneration, Qwen2VLConfig,
               dict(depth=2, embed_dim=32, hidden_size=64, mlp_ratio=2, num_heads=2))


def build_tiny_model(out: str | Path, arch: str = "qwen2_5_vl", seed: int = 0) -> Path:
    """Build and save a tiny random VLM of `arch` in `out`; returns `out`."""
    if arch not in ARCHS:
        raise ValueError(f"--arch {arch!r}: unknown architecture (known: {', '.join(sorted(ARCHS))})")
    out = Path(out)
    ARCHS[arch](out, seed)
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="model directory to write")
    parser.add_argument("--arch", default="qwen2_5_vl", choices=sorted(ARCHS), help="architecture (default qwen2_5_vl)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights (default 0)")


def run(args: argparse.Namespace) -> int:
    out = build_tiny_model(args.out, args.arch, args.seed)
    print(f"tiny {args.arch} written to {out}")
    return 0
