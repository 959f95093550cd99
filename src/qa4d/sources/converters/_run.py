"""Convert every item of a source and write the scenes (the body of `qa4d convert`).

Items are converted as jobs of an executor (qa4d._exec: here, local processes, or Ray tasks):
each job writes its scene into its own slot of a hidden staging directory under OUT, and this
process moves the scenes into place in item order, so a scene id claimed by two items goes to
the first one whatever finished first, and the files are those of a one-process run.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from qa4d._exec import Done, ExecutorConfig, in_order, make_executor
from qa4d._io import make_temp_dir, remove_stale_temporaries
from qa4d.scene.format import write_scene
from qa4d.sources.converters.base import ConvertError, ConvertSettings, get_converter, inside


@dataclass
class ConvertReport:
    written: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)


def _convert_one(job: tuple[str, Path, Path, ConvertSettings, Path]) -> tuple[str | None, str | None]:
    """Worker: convert one item into `slot/<scene_id>`. Returns (scene_id, None) or (None, error)."""
    name, src, item, settings, slot = job
    try:
        inside(src if src.is_dir() else src.parent, item)
        result = get_converter(name).convert(item, src, settings)
        sid = result.meta.scene_id
        write_scene(slot / sid, result.meta, result.arrays, result.frames)
        return sid, None
    except ConvertError as e:
        return None, str(e)


def _move_into_place(staged: Path, target: Path) -> Path:
    if target.exists():
        shutil.rmtree(target)
    os.replace(staged, target)
    return target


def convert_all(name: str, src: Path, out: Path, settings: ConvertSettings,
                executor: ExecutorConfig | None = None) -> ConvertReport:
    """Convert every item the converter finds under `src` into `out/<scene_id>/`.

    A bad item is recorded in the report (its one-line error) and the others go on; a source
    with no item at all raises ConvertError. `executor` says where the items are converted
    (default: here, one after another); the files are the same for every executor.
    """
    conv = get_converter(name)
    src, out = Path(src), Path(out)
    if not src.exists():
        raise ConvertError(f"{src}: no such file or directory")
    items = conv.find(src)
    if not items:
        raise ConvertError(f"{src}: no {name} item found (see `qa4d convert --help` for the expected layout)")
    remove_stale_temporaries(out)  # the staging directory of a killed run
    report = ConvertReport()
    seen: dict[str, Path] = {}
    stage = make_temp_dir(out / "convert")  # .convert.<random>.tmp
    jobs = [(name, src, item, settings, stage / f"{i:06d}") for i, item in enumerate(items)]
    bar = tqdm(total=len(items), desc=f"convert {name}", unit="scene", disable=None, file=sys.stderr)

    def counted(outcomes):
        for d in outcomes:
            bar.update(1)
            yield d

    try:
        with make_executor(executor or ExecutorConfig()) as ex:
            for d in in_order(counted(ex.run(_convert_one, jobs))):
                _commit(d, items[d.index], jobs[d.index][4], out, seen, report)
    finally:
        bar.close()
        shutil.rmtree(stage, ignore_errors=True)
    return report


def _commit(d: Done, item: Path, slot: Path, out: Path, seen: dict[str, Path], report: ConvertReport) -> None:
    """Move item's staged scene into place (in item order), or record why it failed."""
    if d.error is not None:
        raise d.error  # not a ConvertError: a bug, or a worker that died; stop as a local run would
    sid, err = d.result
    if err is None and sid in seen:
        err = f"{item}: scene id {sid!r} is also the id of {seen[sid]}"
    if err is not None:
        report.failed.append((item, err))
        return
    seen[sid] = item
    report.written.append(_move_into_place(slot / sid, out / sid))
