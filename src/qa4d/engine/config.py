"""Settings of a generation run (`qa4d generate`), as one dataclass stored in dataset.json.

Everything that changes the output bytes is here, so dataset.json alone says how a dataset was
made and a resumed run can check it continues the same job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from qa4d.answers import format_names

REF_MODES = ("caption", "coord", "prompt")


@dataclass
class GenerateConfig:
    scenes: str
    out: str
    seed: int = 0
    families: list[str] = field(default_factory=lambda: ["4dpqa"])
    tasks: list[str] | None = None           # None: every task of the families
    bench_fraction: float = 0.2               # share of scenes held out for the benchmark split
    segment_frames: int = 32                  # frames per sampled segment (shorter scenes: all)
    media_frames: int = 8                     # images the model sees, uniform over the segment
    segments_per_scene: int = 2               # segments sampled per scene and task
    samples_per_segment: int = 3              # candidate object choices per segment and task
    ref_modes: dict[str, float] = field(default_factory=lambda: {"caption": 0.4, "coord": 0.3, "prompt": 0.3})
    train_formats: dict[str, float] = field(default_factory=lambda: {"mc": 0.4, "yesno": 0.3, "free": 0.3})
    bench_formats: dict[str, float] = field(default_factory=lambda: {"mc": 0.5, "yesno": 0.5})
    # per-task bench format weights, replacing bench_formats for the tasks named (presets)
    bench_task_formats: dict[str, dict[str, float]] = field(default_factory=dict)
    bench_strict_formats: bool = False        # drop bench items that would break the format mix
    bench_exclude_categories: list[str] = field(default_factory=list)  # e.g. ["point_tracking"]
    mc_options: dict[str, int] = field(default_factory=dict)  # task -> options of its multiple choice
    bench_max_per_task: int = 0               # bench items kept per task (0: all), labels kept balanced
    full_segments: bool = False               # skip scenes shorter than segment_frames (else: all frames)
    preset: str | None = None                 # name of the preset applied (recorded, see presets.py)
    track_targets: tuple[int, int] = (1, 4)   # min, max target frames named in a tracking question
    jpeg_quality: int = 90
    coord_style: str = "normalised"           # pixel-coordinate references: "normalised" or "pixels"
    thresholds: dict[str, Any] | None = None  # overrides of thresholds.json (per source or global)
    workers: int = 1                          # not part of the output: excluded from `fingerprint`

    def validate(self) -> None:
        if not 0.0 <= self.bench_fraction <= 1.0:
            raise ValueError(f"bench_fraction must be in [0, 1], got {self.bench_fraction}")
        if self.segment_frames < 2:
            raise ValueError(f"segment_frames must be >= 2, got {self.segment_frames}")
        if self.media_frames < 2:
            raise ValueError(f"media_frames must be >= 2, got {self.media_frames}")
        for name in self.ref_modes:
            if name not in REF_MODES:
                raise ValueError(f"ref_modes: unknown mode {name!r} (known: {', '.join(REF_MODES)})")
        tables = {"train_formats": self.train_formats, "bench_formats": self.bench_formats,
                  **{f"bench_task_formats.{t}": v for t, v in self.bench_task_formats.items()}}
        for where, table in tables.items():
            if not isinstance(table, dict):
                raise ValueError(f"{where}: must map answer formats to weights, got {table!r}")
            for name, w in table.items():
                if name not in format_names():
                    raise ValueError(f"formats: unknown answer format {name!r} (known: {', '.join(format_names())})")
                if not isinstance(w, (int, float)) or isinstance(w, bool) or not w >= 0:
                    raise ValueError(f"formats: weight of {name!r} must be a number >= 0, got {w!r}")
        if not isinstance(self.bench_exclude_categories, list) or not all(
            isinstance(c, str) for c in self.bench_exclude_categories
        ):
            raise ValueError(f"bench_exclude_categories must be a list of category names, got {self.bench_exclude_categories!r}")
        for task, n in self.mc_options.items():
            if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= 26:
                raise ValueError(f"mc_options: {task!r} must have 2 to 26 options, got {n!r}")
        if self.full_segments and self.media_frames > self.segment_frames:
            raise ValueError(f"media_frames ({self.media_frames}) > segment_frames ({self.segment_frames})")
        if self.coord_style not in ("normalised", "pixels"):
            raise ValueError(f"coord_style must be 'normalised' or 'pixels', got {self.coord_style!r}")

    def fingerprint(self) -> dict[str, Any]:
        """The settings that determine the output (paths and worker count excluded)."""
        d = asdict(self)
        for k in ("scenes", "out", "workers"):
            d.pop(k)
        d["track_targets"] = list(self.track_targets)
        return d

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["track_targets"] = list(self.track_targets)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "GenerateConfig":
        d = dict(d)
        if "track_targets" in d:
            d["track_targets"] = tuple(d["track_targets"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})
