"""Convert every item of a source and write the scenes (the body of `qa4d convert`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from qa4d.scene.format import write_scene
from qa4d.sources.converters.base import ConvertError, ConvertSettings, get_converter, inside


@dataclass
class ConvertReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def convert_all(name: str, src: Path, out: Path, settings: ConvertSettings) -> ConvertReport:
    """Convert every item the converter finds under `src` into `out/<scene_id>/`.

    A bad item is recorded in the report (its one-line error) and the others go on; a source
    with no item at all raises ConvertError.
    """
    conv = get_converter(name)
    src = Path(src)
    if not src.exists():
        raise ConvertError(f"{src}: no such file or directory")
    items = conv.find(src)
    if not items:
        raise ConvertError(f"{src}: no {name} item found (see `qa4d convert --help` for the expected layout)")
    report = ConvertReport()
    seen: dict[str, Path] = {}
    for item in tqdm(items, desc=f"convert {name}", unit="scene", disable=None, file=sys.stderr):
        try:
            inside(src if src.is_dir() else src.parent, item)
            result = conv.convert(item, src, settings)
            sid = result.meta.scene_id
            if sid in seen:
                raise ConvertError(f"{item}: scene id {sid!r} is also the id of {seen[sid]}")
            seen[sid] = item
            report.written.append(write_scene(Path(out) / sid, result.meta, result.arrays, result.frames))
        except ConvertError as e:
            report.failed.append((item, str(e)))
    return report
