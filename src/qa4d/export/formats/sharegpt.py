"""ShareGPT-style messages JSONL (the OpenAI role/content layout with an `images` list), as
ms-swift reads it with `--dataset <file>` and as most chat-SFT loaders accept.

One JSON object per line in `<name>_<split>.jsonl`:

    {"id": "...", "messages": [{"role": "user", "content": "<image>\\n<image>\\nQuestion..."},
                               {"role": "assistant", "content": "B. ..."}],
     "images": ["a.png", "b.png"]}

One `<image>` tag per image, in image order. Relative image paths (media copy/symlink) are relative
to the export directory; the default absolute paths work from anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.export.formats import IMAGE_TOKEN, ExportContext, Exporter, register_exporter, write_jsonl


def messages_row(exporter: Exporter, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
    return {
        "id": record["id"],
        "messages": [
            {"role": "user", "content": exporter.user_text(record)},
            {"role": "assistant", "content": exporter.assistant_text(record)},
        ],
        "images": list(images),
    }


def messages_placeholders(row: Mapping[str, Any]) -> dict[str, int]:
    n = sum(m["content"].count(IMAGE_TOKEN) for m in row["messages"])
    return {f"{IMAGE_TOKEN} tags in messages": n}


@register_exporter("sharegpt")
class ShareGPTExporter(Exporter):
    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        return messages_row(self, record, images)

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        return list(row["images"])

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        return messages_placeholders(row)

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        path = ctx.out_dir / f"{ctx.entry_name(split)}.jsonl"
        write_jsonl(path, rows)
        return [path]
