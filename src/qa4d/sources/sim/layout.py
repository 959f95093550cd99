"""Object layout on the stage: placing footprints clear of each other (`_place`), checking that
a scripted path stays clear (`_path_clear`), and the background props."""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.sources.sim.deal import _pick
from qa4d.sources.sim.motion import scripted_pose
from qa4d.sources.sim.spec import Motion, ObjectSpec, PropSpec


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


def draw_asset(rng: np.random.Generator, cat: dict[str, Any], pool: list[str]) -> tuple:
    """A random asset of `pool` (weighted as the catalogue says) at a random scale: (name, its
    catalogue entry, scale, extent (x, y, z) in metres, URDF path, footprint radius). Draws from
    `rng` in a fixed order (asset, scale, variant), which the scenes' bytes depend on."""
    name = _pick(rng, pool, [float(cat["objects"][n].get("weight", 1.0)) for n in pool])
    a = cat["objects"][name]
    scale = float(rng.uniform(*a["scale"]))
    ext = tuple(float(v) * scale for v in a["unit_extent"])
    urdf = a.get("urdf", "")
    if "{index" in urdf:
        urdf = urdf.format(index=int(rng.integers(0, int(a.get("num_variants", 1)))))
    return name, a, scale, ext, urdf, 0.5 * float(np.hypot(ext[0], ext[1]))


def object_spec(oid: int, drawn: tuple, xy, yaw_deg: float) -> ObjectSpec:
    """The ObjectSpec of an asset `drawn` by draw_asset, standing still at `xy` turned `yaw_deg`."""
    name, a, scale, ext, urdf, _ = drawn
    return ObjectSpec(
        id=oid, asset=name, category=a["category"], urdf=urdf, primitive=a.get("primitive", ""), scale=scale,
        colour="", rgba=(1.0, 1.0, 1.0, 1.0), keep_texture=bool(a.get("keep_texture", False)),
        upright_rpy_deg=tuple(float(v) for v in a["upright_rpy_deg"]), approx_extent=ext,
        position=(float(xy[0]), float(xy[1]), 0.0), yaw_deg=yaw_deg, motion=Motion(),
        is_agent=bool(a.get("agent", False)), forward_axis=tuple(float(v) for v in a.get("forward_axis", (1, 0, 0))),
    )
