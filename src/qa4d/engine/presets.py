"""Named settings of `qa4d generate` (presets), as data files <name>.json in engine/presets/ (shared)
or in a family's presets/ folder (e.g. families/fourdpqa/presets/4dpqa-bench.json). Names are unique.

A preset is a set of GenerateConfig fields ("settings"); `qa4d generate --preset NAME` applies it
over the dataclass defaults, and explicit command-line flags then override it. The preset's name
is recorded in the settings (`preset`), so dataset.json says how a dataset was made.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any

from qa4d.engine.config import GenerateConfig

PRESET_DIR = Path(__file__).with_name("presets")
_NOT_SETTINGS = ("scenes", "out", "workers", "preset")


class PresetError(ValueError):
    """Unknown preset, or a preset file that is not a valid set of settings."""


def preset_paths() -> dict[str, Path]:
    """Preset name -> file, from engine/presets/ and every family's presets/ folder."""
    from qa4d.engine.registry import families

    dirs = [PRESET_DIR] + [f.root / "presets" for f in families().values()]
    out: dict[str, Path] = {}
    for d in dirs:
        for p in sorted(d.glob("*.json")) if d.is_dir() else []:
            if p.stem in out and out[p.stem] != p:
                raise PresetError(f"preset {p.stem!r} is defined twice ({out[p.stem]} and {p})")
            out[p.stem] = p
    return out


def list_presets() -> list[str]:
    return sorted(preset_paths())


def load_preset(name: str) -> dict[str, Any]:
    """The settings of preset `name` (GenerateConfig field -> value), checked against the fields."""
    paths = preset_paths()
    path = paths.get(name)
    if path is None:
        raise PresetError(f"unknown preset {name!r} (known: {', '.join(list_presets()) or 'none'})")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise PresetError(f"{path}: cannot read ({e})") from e
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict):
        raise PresetError(f"{path}: 'settings' must be an object of generate settings")
    known = {f.name for f in fields(GenerateConfig)} - set(_NOT_SETTINGS)
    unknown = sorted(k for k in settings if k not in known)
    if unknown:
        raise PresetError(f"{path}: settings: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    defaults = GenerateConfig(scenes="", out="")
    for key, value in settings.items():
        want = _json_kind(getattr(defaults, key))
        if want is not None and value is not None and _json_kind(value) != want:
            raise PresetError(f"{path}: settings.{key}: expected a JSON {want}, got {value!r}")
    return settings


def _json_kind(value: Any) -> str | None:
    """The JSON type of a value (ints count as numbers); None for null."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    return "object"


def make_config(scenes: str, out: str, preset: str | None = None, **explicit: Any) -> GenerateConfig:
    """GenerateConfig from dataclass defaults < preset settings < explicit values (None = not given)."""
    values: dict[str, Any] = {}
    if preset is not None:
        values.update(load_preset(preset))
        values["preset"] = preset
    values.update({k: v for k, v in explicit.items() if v is not None})
    if "track_targets" in values:
        values["track_targets"] = tuple(values["track_targets"])
    cfg = GenerateConfig(scenes=scenes, out=out, **values)
    cfg.validate()
    return cfg

