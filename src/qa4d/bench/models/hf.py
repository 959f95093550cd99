"""`--model hf --model-path DIR`: a Hugging Face `transformers` VLM from local weights.

Qwen2.5-VL and Qwen2-VL are supported first-class (their ForConditionalGeneration classes); other
image-text-to-text models go through `AutoModelForImageTextToText` and their own processor. The
frames are given as N image entries of one user turn, followed by the prompt, formatted with the
checkpoint's chat template; decoding is greedy (`--max-new-tokens`). With `--batch-size N` the
runner hands N items at once: their prompts are left-padded into one batch with an attention
mask, which gives the same greedy answers as one at a time. Runs on CUDA when available
(bfloat16), else on CPU (float32); `--device` / `--dtype` override. Never downloads anything:
DIR must hold the config, weights, tokenizer and image processor. A checkpoint of `qa4d train p4d
--tpe` (qa4d_tpe.json) gets its timestamp encoding added to each frame's visual tokens (qa4d.nn.tpe);
one of `qa4d train geo` (qa4d_geo/) its geometry tokens after each frame's visual tokens (qa4d.nn.geo).

Needs the `hf` extra: pip install -e '.[hf]'  (torch, transformers, accelerate).

The inputs are the Qwen processor's own (transformers' Qwen2_5_VLProcessor / Qwen2VLProcessor):
input_ids with each image's `<|image_pad|>` expanded to its merged patches, pixel_values,
image_grid_thw, attention_mask and mm_token_type_ids (text 0, image 1), from which the model
computes its multimodal RoPE positions (temporal, height, width). Without torchvision,
`AutoProcessor` cannot build that processor (its video processor needs torchvision); then the same
processor class is built without its video half, from the tokenizer and the (PIL) image processor,
so images go through exactly the code they would with torchvision. qa4d gives frames as images,
never as a video, so the video half is not needed.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import Any, Sequence

from PIL import Image

from qa4d.bench.models.base import ImageLike, Model, ModelConfigError
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem

QWEN_TYPES = ("qwen2_5_vl", "qwen2_vl")
EXTRA_HINT = "pip install -e '.[hf]'"


def _import_hf():
    try:
        import torch  # noqa: PLC0415  (heavy; only imported when an hf model is used)
        import transformers  # noqa: PLC0415
    except ImportError as e:
        raise ModelConfigError(
            f"--model hf needs torch and transformers ({e.name} is missing): {EXTRA_HINT}"
        ) from None
    return torch, transformers


def _as_pil(image: ImageLike) -> Image.Image:
    if isinstance(image, (str, Path)):
        with Image.open(image) as im:
            return im.convert("RGB")
    return image.convert("RGB") if image.mode != "RGB" else image


def _fallback_template(n_images: int, prompt: str) -> str:
    # Qwen's chat format, used only when the checkpoint ships no chat template
    vision = "<|vision_start|><|image_pad|><|vision_end|>" * n_images
    return f"<|im_start|>user\n{vision}{prompt}<|im_end|>\n<|im_start|>assistant\n"


def _chat_template(path: Path, tokenizer) -> str | None:
    """The checkpoint's chat template: the tokenizer's, else chat_template.jinja / chat_template.json."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.chat_template
    if (path / "chat_template.jinja").is_file():
        return (path / "chat_template.jinja").read_text(encoding="utf-8")
    if (path / "chat_template.json").is_file():
        import json  # noqa: PLC0415

        try:
            return json.loads((path / "chat_template.json").read_text(encoding="utf-8"))["chat_template"]
        except (ValueError, KeyError, TypeError) as e:
            raise ModelConfigError(f"{path / 'chat_template.json'}: no readable chat_template field ({e})") from None
    return None


def _image_only_qwen_processor(transformers, model_type: str, path: Path):
    """The checkpoint's Qwen processor class without its video processor (which needs torchvision):
    the same tokenizer/image code, placeholder expansion and mm_token_type_ids as the full one."""
    base = transformers.Qwen2_5_VLProcessor if model_type == "qwen2_5_vl" else transformers.Qwen2VLProcessor

    class ImageOnlyProcessor(base):
        # transformers reads a processor's parts from its __init__ signature: image processor + tokenizer
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            super().__init__(image_processor=image_processor, tokenizer=tokenizer, video_processor=None,
                             chat_template=chat_template, **kwargs)

    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
        # without torchvision this is the PIL image processor (resize, normalise, patches, grid)
        image_processor = transformers.AutoImageProcessor.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, TypeError) as e:
        raise ModelConfigError(f"--model-path {path}: cannot load tokenizer/image processor: {e}") from None
    return ImageOnlyProcessor(image_processor=image_processor, tokenizer=tokenizer,
                              chat_template=_chat_template(path, tokenizer))


@register_model("hf")
class HFModel(Model):
    """A local transformers VLM, greedy decoding; one item at a time, or left-padded batches of
    `--batch-size` items (`generate_batch`)."""

    concurrency = 1
    supports_batching = True

    def __init__(self, model_path: str | Path, device: str = "auto", dtype: str = "auto", max_new_tokens: int = 512,
                 max_pixels: int | None = None):
        torch, transformers = _import_hf()
        self.torch = torch
        path = Path(model_path)
        if not path.is_dir():
            raise ModelConfigError(f"--model-path {path} is not a directory")
        if not (path / "config.json").is_file():
            raise ModelConfigError(f"--model-path {path} has no config.json (not a Hugging Face model directory)")
        self.path = path
        self.max_new_tokens = int(max_new_tokens)
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        if dtype == "auto":
            dtype = "bfloat16" if device.startswith("cuda") else "float32"
        self.dtype_name = dtype
        torch_dtype = getattr(torch, dtype, None)
        if not isinstance(torch_dtype, torch.dtype):
            raise ModelConfigError(f"--dtype {dtype!r} is not a torch dtype (use float32, bfloat16 or float16)")

        try:
            config = transformers.AutoConfig.from_pretrained(path, local_files_only=True)
        except (OSError, ValueError) as e:
            raise ModelConfigError(f"--model-path {path}: cannot read the model config: {e}") from None
        self.model_type = config.model_type
        if self.model_type == "qwen2_5_vl":
            cls = transformers.Qwen2_5_VLForConditionalGeneration
        elif self.model_type == "qwen2_vl":
            cls = transformers.Qwen2VLForConditionalGeneration
        else:
            cls = transformers.AutoModelForImageTextToText
        try:
            # on a GPU, load the weights straight onto it (accelerate) instead of through host memory
            placement = {"device_map": device} if device.startswith("cuda") else {}
            self.model = cls.from_pretrained(path, dtype=torch_dtype, local_files_only=True, **placement)
            self.model = self.model.to(device).eval()
        except (OSError, ValueError) as e:
            raise ModelConfigError(f"--model-path {path}: cannot load {self.model_type} weights: {e}") from None

        self.processor = None
        self.processor_is_partial = False   # the Qwen processor without its video half (see the docstring)
        try:
            self.processor = transformers.AutoProcessor.from_pretrained(path, local_files_only=True)
        except (ImportError, AttributeError, ValueError, OSError, TypeError, KeyError) as e:
            if self.model_type not in QWEN_TYPES:
                raise ModelConfigError(f"--model-path {path}: cannot load the processor: {e}") from None
            self.processor = _image_only_qwen_processor(transformers, self.model_type, path)
            self.processor_is_partial = True
        self.tokenizer = self.processor.tokenizer
        self.image_processor = getattr(self.processor, "image_processor", None)
        # batches are left-padded: generation continues after each prompt's last token
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        if max_pixels is not None:
            self._cap_pixels(int(max_pixels))
        # a checkpoint of `qa4d train p4d --tpe` carries qa4d_tpe.json: add the timestamp encoding
        from qa4d.nn.tpe import tpe_from_checkpoint  # noqa: PLC0415
        self.tpe = tpe_from_checkpoint(self.model, path)
        # a checkpoint of `qa4d train geo` carries qa4d_geo/: geometry tokens after each frame
        from qa4d.nn.geo import geo_from_checkpoint  # noqa: PLC0415
        self.geo = geo_from_checkpoint(self.model, self.tokenizer, path)
        self._lock = threading.Lock()  # one generate at a time on one model

    def _cap_pixels(self, max_pixels: int) -> None:
        """Lower the image processor's pixel budget per frame (Qwen: `size["longest_edge"]`, in pixels)."""
        ip = self.image_processor or getattr(self.processor, "image_processor", None)
        applied = False
        if ip is not None and hasattr(ip, "max_pixels") and ip.max_pixels is not None:
            ip.max_pixels = max_pixels  # older transformers
            applied = True
        size = getattr(ip, "size", None)
        try:
            if size is not None and size["longest_edge"] is not None:
                size["longest_edge"] = max_pixels  # transformers 5: a SizeDict
                applied = True
        except (KeyError, TypeError):
            pass
        if not applied:
            raise ModelConfigError(f"--max-pixels: the image processor of {self.path} has no pixel budget to set")

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--model-path", type=Path, help="hf: local model directory (config, weights, processor)")
        group.add_argument("--max-new-tokens", type=int, default=512, help="hf: most tokens to generate (default 512)")
        group.add_argument("--device", default="auto", help="hf: cpu, cuda, cuda:1 ... (default: cuda if available)")
        group.add_argument("--dtype", default="auto", help="hf: float32, bfloat16, float16 (default: bf16 on GPU, fp32 on CPU)")
        group.add_argument("--max-pixels", type=int, default=None,
                           help="hf: cap on pixels per frame for the image processor (Qwen: default of the checkpoint)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "HFModel":
        if not getattr(args, "model_path", None):
            raise ModelConfigError("--model hf needs --model-path DIR (a local Hugging Face model directory)")
        return cls(args.model_path, device=args.device, dtype=args.dtype, max_new_tokens=args.max_new_tokens,
                   max_pixels=args.max_pixels)

    # -- inputs --------------------------------------------------------------------------------
    def chat_text(self, prompt: str, n_images: int) -> str:
        messages = [{"role": "user", "content": [{"type": "image"}] * n_images + [{"type": "text", "text": prompt}]}]
        if getattr(self.processor, "chat_template", None):
            return self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        if self.model_type in QWEN_TYPES:
            return _fallback_template(n_images, prompt)
        raise ModelConfigError(f"--model-path {self.path}: the checkpoint has no chat template")

    def prepare(self, prompt: str, images: Sequence[ImageLike]) -> dict[str, Any]:
        """Model inputs (tensors on the model's device) for one prompt and its frames."""
        return self.prepare_batch([prompt], [images])

    def prepare_batch(self, prompts: Sequence[str], images: Sequence[Sequence[ImageLike]]) -> dict[str, Any]:
        """Inputs for several items, left-padded to one length (input_ids, attention_mask (B, L)).

        Left padding keeps every prompt's last token at the last position, where generation
        continues; the attention mask hides the padding. For Qwen, mm_token_type_ids (B, L) marks
        the image tokens (1) among the text (0): the model computes its M-RoPE positions from it,
        the image grids and the attention mask. The frames of all items go into one pixel_values,
        in item order, which is the order in which the model fills the image placeholders.
        """
        if len(prompts) != len(images):
            raise ValueError(f"{len(prompts)} prompts but {len(images)} image lists")
        pil = [[_as_pil(im) for im in ims] for ims in images]
        texts = [self.chat_text(p, len(ims)) for p, ims in zip(prompts, pil)]
        if self.geo is not None:  # interleave each frame's geometry tokens (qa4d.nn.geo)
            texts = [self.geo.edit_text(t) for t in texts]
            with self.torch.no_grad():
                self.geo.stage_clips(pil)
        flat = [im for ims in pil for im in ims]
        inputs = self.processor(text=texts, images=flat or None, padding=True, return_tensors="pt")
        out = {}
        for k, v in dict(inputs).items():
            if hasattr(v, "to"):
                v = v.to(self.device)
                if k == "pixel_values":
                    v = v.to(self.model.dtype)
            out[k] = v
        return out

    def _pad_id(self) -> int:
        return self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id

    def generate_ids_batch(self, prompts: Sequence[str], images: Sequence[Sequence[ImageLike]]) -> list[Any]:
        """Generated ids (T_i,) per item, greedy, in one padded batch; each cut after its first
        end-of-sequence token (rows that finish early are padded by `generate`)."""
        torch = self.torch
        inputs = self.prepare_batch(prompts, images)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                                      pad_token_id=self._pad_id())
        new = out[:, inputs["input_ids"].shape[1]:]
        eos = self.model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, (list, tuple)) else [] if eos is None else [eos])
        rows = []
        for row in new:
            ids = row.tolist()
            stop = next((i for i, t in enumerate(ids) if t in eos_ids), None)
            rows.append(row[: stop + 1] if stop is not None else row)
        return rows

    def generate_ids(self, prompt: str, images: Sequence[ImageLike]) -> tuple[Any, Any]:
        """(input_ids (1, L), generated ids (T,)) for one item, greedy."""
        torch = self.torch
        inputs = self.prepare(prompt, images)
        with self._lock, torch.inference_mode():
            out = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False, num_beams=1,
                                      pad_token_id=self._pad_id())
        return inputs["input_ids"], out[0, inputs["input_ids"].shape[1]:]

    def _set_timestamps(self, items: Sequence[Any], images: Sequence[Sequence[ImageLike]]) -> None:
        """TPE checkpoints: each frame's timestamp (item.meta["timestamps"], when one per frame shown)."""
        if self.tpe is not None:
            from qa4d.nn.tpe import item_timestamps  # noqa: PLC0415
            self.tpe.set_timestamps(item_timestamps(items, [len(ims) for ims in images]))

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        self._set_timestamps([item], [images])
        _, new = self.generate_ids(prompt, images)
        return self.tokenizer.decode(new, skip_special_tokens=True).strip()

    def generate_batch(
        self, prompts: Sequence[str], images: Sequence[Sequence[ImageLike]], items: Sequence[BenchItem]
    ) -> list[str]:
        """Answer several items in one left-padded forward pass per step (`--batch-size`)."""
        self._set_timestamps(items, images)
        return [self.tokenizer.decode(ids, skip_special_tokens=True).strip()
                for ids in self.generate_ids_batch(prompts, images)]

    def describe(self) -> dict[str, Any]:
        return {"model": "hf", "model_path": str(self.path.resolve()), "model_type": self.model_type,
                "device": self.device, "dtype": self.dtype_name, "max_new_tokens": self.max_new_tokens,
                **({"tpe": self.tpe.describe()} if self.tpe is not None else {}),
                **({"geo": self.geo.describe()} if self.geo is not None else {})}

    def close(self) -> None:
        self.model = None
        if self.device.startswith("cuda"):
            self.torch.cuda.empty_cache()
