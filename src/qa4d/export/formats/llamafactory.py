"""LLaMA-Factory multimodal SFT data (hiyouga/LLaMA-Factory, `data/README.md`, sharegpt format
with OpenAI-style tags, like its `mllm_demo` dataset).

Writes `<name>_<split>.json` (a JSON array) and registers it in the export directory's
`dataset_info.json` (merged with entries already there):

    "<name>_<split>": {"file_name": "<name>_<split>.json", "formatting": "sharegpt",
                       "columns": {"messages": "messages", "images": "images"},
                       "tags": {"role_tag": "role", "content_tag": "content",
                                "user_tag": "user", "assistant_tag": "assistant"}}

Each row: {"messages": [{"role": "user", "content": "<image>...Question"}, {"role": "assistant",
"content": "B. ..."}], "images": [...]}, one `<image>` per image. Train with
`dataset_dir: <export dir>` and `dataset: <name>_train`; LLaMA-Factory resolves relative image paths
against `media_dir`, which defaults to `dataset_dir`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from qa4d.export.formats import ExportContext, register_exporter, update_json_registry, write_json_list
from qa4d.export.formats.sharegpt import ShareGPTExporter

DATASET_INFO = "dataset_info.json"


def dataset_info_entry(file_name: str) -> dict[str, Any]:
    return {
        "file_name": file_name,
        "formatting": "sharegpt",
        "columns": {"messages": "messages", "images": "images"},
        "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
    }


@register_exporter("llamafactory")
class LlamaFactoryExporter(ShareGPTExporter):
    """ShareGPT rows (same messages and images); written as one JSON array plus its
    dataset_info.json entry."""

    def write(self, ctx: ExportContext, split: str, rows: Sequence[Mapping[str, Any]]) -> list[Path]:
        entry = ctx.entry_name(split)
        data = ctx.out_dir / f"{entry}.json"
        write_json_list(data, rows)
        info = ctx.out_dir / DATASET_INFO
        update_json_registry(info, {entry: dataset_info_entry(data.name)})
        return [data, info]
