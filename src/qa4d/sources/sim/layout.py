"""Object layout on the stage: placing footprints clear of each other (`_place`), checking that
a scripted path stays clear (`_path_clear`), and the background props."""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.sources.sim.motion import scripted_pose
from qa4d.sources.sim.spec import ObjectSpec, PropSpec


def _place(rng: np.random.Generator, placed: list[tuple[np.ndarray, float]], radius: float, disc: float) -> np.ndarray:
    """A point in the disc, clear of already placed footprints when possible."""
    best, best_gap = None, -np.inf
    for _ in range(200):
        r = disc * np.sqrt(rng.random())
        a = rng.uniform(-np.pi, np.pi)
        xy = np.array([r * np.cos(a), r * np.sin(a)])
        gap = min((np.linalg.norm(xy - p) - radius - pr for p, pr in placed), default=np.inf)
        if gap > 0.1:
            return xy
        if gap > best_gap:
            best, best_gap = xy, gap
    return best


def _path_clear(obj: ObjectSpec, objects: list[ObjectSpec], samples: int = 9) -> bool:
    """Whether a kinematic object's path keeps clear of every other assigned object's footprint."""
    times = np.linspace(0, 1, samples)
    if obj.motion.kind == "oscillate":  # also at every turning point (its path's far end)
        m = obj.motion
        legs = 2 * max(int(m.count), 1)
        times = np.union1d(times, m.start + (m.end - m.start) * np.arange(legs + 1) / legs)
    for s in times:
        off, _ = scripted_pose(obj, float(s))
        p = np.asarray(obj.position[:2]) + off[:2]
        if np.linalg.norm(p) > 2.0:  # stay inside the stage
            return False
        if obj.position[2] + off[2] > 0.05:  # lifted objects fly over the others
            continue
        for other in objects:
            if other.id == obj.id:
                continue
            o_off, _ = scripted_pose(other, float(s)) if other.motion.kinematic else (np.zeros(3), 0)
            q = np.asarray(other.position[:2]) + o_off[:2]
            if np.linalg.norm(p - q) < obj.radius + other.radius + 0.05:
                return False
    return True


def _sample_props(rng: np.random.Generator, cat: dict[str, Any], cam_azim: float) -> list[PropSpec]:
    """1-3 static props behind the stage as seen from the first camera."""
    names = list(cat["props"])
    out = []
    for _ in range(int(rng.integers(1, 4))):
        name = names[int(rng.integers(len(names)))]
        a = cat["props"][name]
        ang = cam_azim + np.pi + rng.uniform(-1.0, 1.0)
        r = rng.uniform(2.6, 4.0)
        grey = float(rng.uniform(0.35, 0.9))
        tint = np.clip(grey + rng.normal(0, 0.08, 3), 0, 1)
        out.append(
            PropSpec(
                kind=name,
                urdf=a.get("urdf", ""),
                primitive=a.get("primitive", ""),
                scale=float(rng.uniform(*a["scale"])),
                rgba=(float(tint[0]), float(tint[1]), float(tint[2]), 1.0),
                position=(float(r * np.cos(ang)), float(r * np.sin(ang))),
                yaw_deg=float(rng.uniform(-180, 180)),
            )
        )
    return out
