"""LLaVA (haotian-liu/LLaVA, LLaVA-NeXT/OneVision) instruction-tuning JSON.

One JSON array per split, `<name>_<split>.json`; each row:

    {"id": "...", "image": ["a.png", "b.png"],
     "conversations": [{"from": "human", "value": "<image>\\n<image>\\nQuestion..."},
                       {"from": "gpt", "value": "B. ..."}]}

One `<image>` placeholder per image, in image order. LLaVA joins `--image_folder` with each path,
so relative paths (media copy/symlink) need `--image_folder` set to the export directory; absolute
paths work with any folder. The original LLaVA-1.5 loader takes a single image per row; the
multi-image list is read by LLaVA-NeXT / LLaVA-OneVision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.export.formats import IMAGE_TOKEN, ExportContext, Exporter, register_exporter, write_json_list


@register_exporter("llava")
class LLaVAExporter(Exporter):
    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": record["id"]}
        if images:  # LLaVA treats a row without "image" as text-only
            row["image"] = list(images)
        row["conversations"] = [
            {"from": "human", "value": self.user_text(record)},
            {"from": "gpt", "value": self.assistant_text(record)},
        ]
        return row

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        return list(row.get("image", []))

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        n = sum(turn["value"].count(IMAGE_TOKEN) for turn in row["conversations"])
        return {f"{IMAGE_TOKEN} placeholders in conversations": n}

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        path = ctx.out_dir / f"{ctx.entry_name(split)}.json"
        write_json_list(path, rows)
        return [path]
