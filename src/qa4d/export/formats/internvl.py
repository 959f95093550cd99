"""InternVL chat fine-tuning data (OpenGVLab/InternVL, `internvl_chat`, chat data format docs).

Writes `<name>_<split>.jsonl`, one object per line:

    {"id": "...", "image": "a.png" or ["a.png", "b.png"],
     "conversations": [{"from": "human", "value": "Frame 1: <image>\\nFrame 2: <image>\\nQuestion..."},
                       {"from": "gpt", "value": "B. ..."}]}

(`image` is a string for one image and a list for several; each image gets its own labelled line,
like InternVL's `Image-k: <image>` multi-image convention but named as the questions name frames),
and the meta file
`<name>_<split>_meta.json` that `--meta_path` of InternVL's fine-tuning scripts reads:

    {"<name>_<split>": {"root": "<export dir>/", "annotation": "<export dir>/<name>_<split>.jsonl",
                        "data_augment": false, "repeat_time": 1, "length": N}}

One meta file per split, so pointing training at the train meta can never pull in bench samples.
InternVL joins `root` with each image path; absolute image paths work with any root.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.export.formats import IMAGE_TOKEN, ExportContext, Exporter, register_exporter, write_jsonl
from qa4d.export.records import write_json_atomic


@register_exporter("internvl")
class InternVLExporter(Exporter):
    def row(self, record: Mapping[str, Any], images: Sequence[str]) -> dict[str, Any]:
        row: dict[str, Any] = {"id": record["id"]}
        if images:  # pure-text rows carry no image key in InternVL's data
            row["image"] = images[0] if len(images) == 1 else list(images)
        row["conversations"] = [
            {"from": "human", "value": self.user_text(record)},
            {"from": "gpt", "value": self.assistant_text(record)},
        ]
        return row

    def row_images(self, row: Mapping[str, Any]) -> list[str]:
        image = row.get("image", [])
        return [image] if isinstance(image, str) else list(image)

    def placeholder_counts(self, row: Mapping[str, Any]) -> dict[str, int]:
        n = sum(turn["value"].count(IMAGE_TOKEN) for turn in row["conversations"])
        return {f"{IMAGE_TOKEN} placeholders in conversations": n}

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        entry = ctx.entry_name(split)
        data = ctx.out_dir / f"{entry}.jsonl"
        write_jsonl(data, rows)
        meta = ctx.out_dir / f"{entry}_meta.json"
        write_json_atomic(
            meta,
            {
                entry: {
                    "root": str(ctx.out_dir) + "/",
                    "annotation": str(data),
                    "data_augment": False,
                    "repeat_time": 1,
                    "length": len(rows),
                }
            },
        )
        return [data, meta]
