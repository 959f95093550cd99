"""Qwen2-VL / Qwen2.5-VL fine-tuning JSONL.

One JSON object per line in `<name>_<split>.jsonl`, carrying the sample in both layouts Qwen
trainers read:

- `image` + `conversations` (from human/gpt, one `<image>` per image): what Qwen's own
  `qwen-vl-finetune` (QwenLM/Qwen2.5-VL) loads; it resolves each image against the dataset entry's
  `data_path` and turns the placeholders into typed content parts itself;
- `messages` with typed content parts (`{"type": "text", "text": "Frame 1:"}`,
  `{"type": "image", "image": path}`, ..., then the question as a text part): the chat format of the
  Qwen processors' `apply_chat_template` and `qwen_vl_utils.process_vision_info`, used by TRL-style
  SFT scripts. The parts are exactly those qwen-vl-finetune derives from `conversations`.

Register it in qwen-vl-finetune's `qwenvl/data/__init__.py` with
`{"annotation_path": "<export dir>/<name>_train.jsonl", "data_path": "<export dir>"}`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.export.formats import IMAGE_TOKEN, ExportContext, Exporter, register_exporter, write_jsonl

_SPLIT = re.compile(f"({re.escape(IMAGE_TOKEN)})")


def content_parts(text: str, images: Sequence[str]) -> list[dict[str, str]]:
    """Typed content parts of a user turn: the text split at each placeholder, stripped pieces as
    text parts and each placeholder as the next image, i.e. the parts qwen-vl-finetune builds from
    the same `conversations` turn. Surplus placeholders get no part (the row check reports them)."""
    parts: list[dict[str, str]] = []
    pool = list(images)
    for seg in _SPLIT.split(text):
        if seg == IMAGE_TOKEN:
            if pool:
                parts.append({"type": "image", "image": pool.pop(0)})
        elif seg.strip():
            parts.append({"type": "text", "text": seg.strip()})
    return parts


@register_exporter("qwen")
class QwenExporter(Exporter):
    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        user = self.user_text(record)
        answer = self.assistant_text(record)
        return {
            "id": record["id"],
            "image": list(images),
            "conversations": [{"from": "human", "value": user}, {"from": "gpt", "value": answer}],
            "messages": [
                {"role": "user", "content": content_parts(user, images)},
                {"role": "assistant", "content": [{"type": "text", "text": answer}]},
            ],
        }

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        return list(row["image"])

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        parts = [p for m in row["messages"] for p in m["content"] if p.get("type") == "image"]
        counts = {
            f"{IMAGE_TOKEN} placeholders in conversations": sum(t["value"].count(IMAGE_TOKEN) for t in row["conversations"]),
            "image content parts in messages": len(parts),
        }
        if [p["image"] for p in parts] != list(row["image"]):
            counts["image content parts naming the image list's files in order"] = 0
        return counts

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        path = ctx.out_dir / f"{ctx.entry_name(split)}.jsonl"
        write_jsonl(path, rows)
        return [path]
