"""Demo of `qa4d convert`: one tiny fixture of each supported dataset, converted and turned into
questions (`make demo-convert`).

The fixtures are the test suite's (tests/sources/test_convert_*.py): short ray-cast sequences in
each dataset's exact on-disk format, with non-square images and known camera and object motion.
Writes OUT/src/<dataset>/ (the fixtures), OUT/scenes/ (converted scenes), OUT/dataset/ (QA with
its CARD.md, whose "Counts per source" shows what each source could and could not give).

    python scripts/demo_convert.py [OUT]      (default out/demo-convert)
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from qa4d.cli import main  # noqa: E402
from qa4d.sources.converters.kubric import flatten_example  # noqa: E402
from tests.sources import (  # noqa: E402
    test_convert_kubric as kubric,
    test_convert_pointodyssey as pointodyssey,
    test_convert_recon as recon,
    test_convert_tapvid3d as tapvid3d,
    test_convert_vkitti2 as vkitti2,
)


def write_fixtures(src: Path) -> dict[str, Path]:
    """One fixture per converter under `src`; returns converter name -> SRC to convert."""
    if not src.exists():
        tapvid3d.write_clip(src / "tapvid3d" / "drivetrack" / "clip.npz")
        kubric.write_worker_dir(src / "kubric" / "worker" / "00000")
        (src / "kubric" / "tfds").mkdir(parents=True)
        np.savez(src / "kubric" / "tfds" / "example.npz", **flatten_example(kubric.tfds_example()))
        recon.write_recon(src / "recon" / "myvideo.npz", masks="dir")
        vkitti2.write_vkitti(src / "vkitti2" / "Scene01" / "clone")
        pointodyssey.write_seq(src / "pointodyssey" / "train" / "seq")
    return {name: src / name for name in ("tapvid3d", "kubric", "recon", "vkitti2", "pointodyssey")}


def run(out: Path) -> int:
    for name, src in write_fixtures(out / "src").items():
        if main(["convert", "--from", name, str(src), "--out", str(out / "scenes")]) != 0:
            return 1
    steps = [["validate", "--quiet", str(out / "scenes")],
             ["generate", "--scenes", str(out / "scenes"), "--out", str(out / "dataset"), "--seed", "0",
              "--bench-fraction", "0.3"],
             ["audit", str(out / "dataset")],
             ["card", str(out / "dataset")]]
    for argv in steps:
        if main(argv) != 0:
            return 1
    print(f"fixtures: {out / 'src'}\nscenes:   {out / 'scenes'}\ndataset:  {out / 'dataset'} (CARD.md)")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "out" / "demo-convert"))
