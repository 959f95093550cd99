"""The student VLM of every recipe: loading, freezing parts, LoRA, the SFT loss and the final save.

Parts (for --freeze): `vision` (the vision encoder), `projector` (the vision-language projector,
Qwen's patch merger), `llm` (the language model and its output head). Named by parameter prefix
per architecture (longest prefix wins); adding an architecture is one entry of PARTS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qa4d._io import write_json_atomic, write_text_atomic

PARTS: dict[str, dict[str, tuple[str, ...]]] = {
    "qwen2_5_vl": {"vision": ("model.visual.",), "projector": ("model.visual.merger.",),
                   "llm": ("model.language_model.", "lm_head.")},
    "qwen2_vl": {"vision": ("model.visual.",), "projector": ("model.visual.merger.",),
                 "llm": ("model.language_model.", "lm_head.")},
}
PART_NAMES = ("vision", "projector", "llm")
LORA_TARGETS = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)"
PEFT_PREFIX = "base_model.model."


def load_vlm(model_path: str | Path, max_pixels: int | None = None, device: str = "cpu"):
    """The model and its inputs code, as `qa4d eval --model hf` loads them (float32 on CPU)."""
    from qa4d.bench.models.base import ModelConfigError
    from qa4d.bench.models.hf import HFModel

    dtype = "float32" if device == "cpu" else "bfloat16"
    try:
        hf = HFModel(model_path, device=device, dtype=dtype, max_new_tokens=1, max_pixels=max_pixels)
    except ModelConfigError as e:
        raise SystemExit(str(e).replace("'.[hf]'", "'.[train]'")) from None
    if hf.model_type not in PARTS:
        raise SystemExit(f"--model-path {model_path}: training supports {', '.join(PARTS)}; got {hf.model_type}")
    return hf


def part_of(name: str, model_type: str) -> str | None:
    name = name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else name
    best, part = -1, None
    for p, prefixes in PARTS[model_type].items():
        for prefix in prefixes:
            if name.startswith(prefix) and len(prefix) > best:
                best, part = len(prefix), p
    return part


def parse_parts(text: str | None) -> set[str]:
    if not text:
        return set()
    parts = {p.strip() for p in text.split(",") if p.strip()}
    bad = sorted(parts - set(PART_NAMES))
    if bad:
        raise SystemExit(f"--freeze: unknown part(s) {', '.join(bad)} (known: {', '.join(PART_NAMES)})")
    return parts


def set_trainable(model, model_type: str, frozen: set[str], lora_rank: int = 0, lora_alpha: float | None = None):
    """Freeze the `frozen` parts; with lora_rank > 0, wrap the LLM's linear layers in LoRA adapters
    (their base weights frozen) and return the PEFT model. Returns the model to train."""
    for name, p in model.named_parameters():
        p.requires_grad = part_of(name, model_type) not in frozen
    if lora_rank <= 0:
        return model
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=lora_rank, lora_alpha=lora_alpha or 2 * lora_rank, lora_dropout=0.0,
                        target_modules=LORA_TARGETS, bias="none")
    wanted = {n for n, p in model.named_parameters() if p.requires_grad}
    model = get_peft_model(model, config)
    for name, p in model.named_parameters():
        if "lora_" in name:
            p.requires_grad = True  # the adapters are what LoRA trains
        else:
            bare = name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else name
            # the LLM's own weights stay frozen under LoRA; other unfrozen parts still train
            p.requires_grad = bare in wanted and part_of(name, model_type) != "llm"
    return model


def count_trainable(model) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


def answer_loss(logits, labels):
    """Mean cross-entropy of the next-token predictions at the supervised positions.
    logits (B, L, V), labels (B, L) with -100 where unsupervised -> scalar."""
    import torch.nn.functional as F

    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]).float(), labels[:, 1:].reshape(-1),
                           ignore_index=-100)


def forward(model, batch: dict[str, Any], hidden: bool = False):
    # mm_token_type_ids (text 0, image 1): what Qwen computes its multimodal RoPE positions from
    keys = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values", "image_grid_thw")
    return model(**{k: batch[k] for k in keys if k in batch}, output_hidden_states=hidden, use_cache=False)


def save_vlm(model, hf, out: Path, info: dict[str, Any]) -> None:
    """A plain checkpoint of the trained model in `out` (LoRA merged into the weights), with the
    tokenizer, the image processor and qa4d_train.json (the recipe)."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    model.save_pretrained(out)
    hf.tokenizer.padding_side = "right"
    hf.tokenizer.save_pretrained(out)
    hf.tokenizer.padding_side = "left"
    if hf.processor is not None and not hf.processor_is_partial:
        hf.processor.save_pretrained(out)
    else:  # the Qwen processor without its video half: save its parts (it is rebuilt from them)
        hf.image_processor.save_pretrained(out)
        template = hf.processor.chat_template
        if template and not hf.tokenizer.chat_template:
            write_text_atomic(Path(out) / "chat_template.jinja", template)
    write_json_atomic(Path(out) / "qa4d_train.json", info)
    share_files(out)


def share_files(directory: str | Path) -> None:
    """Give the files `save_pretrained` wrote (some 0600) the permissions the umask gives new files."""
    import os

    from qa4d._io import _umask

    for f in Path(directory).rglob("*"):
        if f.is_file():
            os.chmod(f, 0o666 & ~_umask())
