"""Drawing camera trajectories: the stratified slots of the camera_movement labels and the
magnitudes of each move, clear of the engine's dead bands (`_sample_camera`, `_jitter`)."""

from __future__ import annotations

import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.spec import CameraMove, CameraSpec

# Camera trajectories grouped by the camera_movement label they give (in the first camera's axes,
# docs/labels.md): (slot name, sign, trajectories that give the same label). A scene's slot is
# stratified over the scenes of a run (`_stratum`), so every label comes out equally often; the
# trajectory within a slot is drawn at random. Combinations only pair moves whose labels merge
# into an existing one (jitter adds nothing; truck + opposite pan is what an orbit reads as), since
# every distinct label costs the engine's per-label balancing a share of all the others.
CAMERA_SLOTS: tuple[tuple[str, int, tuple[tuple[str, ...], ...]], ...] = (
    ("static", 0, (("static",), ("jitter",))),
    ("pan", 1, (("pan",), ("pan", "jitter"))),
    ("pan", -1, (("pan",), ("pan", "jitter"))),
    ("tilt", 1, (("tilt",), ("tilt", "jitter"))),
    ("tilt", -1, (("tilt",), ("tilt", "jitter"))),
    ("dolly", 1, (("dolly",), ("dolly", "jitter"))),
    ("dolly", -1, (("dolly",), ("dolly", "jitter"))),
    ("truck", 1, (("truck",), ("truck", "jitter"))),
    ("truck", -1, (("truck",), ("truck", "jitter"))),
    ("pedestal", 1, (("pedestal",), ("pedestal", "jitter"))),
    ("pedestal", -1, (("pedestal",), ("pedestal", "jitter"))),
    ("orbit", 1, (("orbit",), ("orbit", "jitter"), ("truck", "pan"))),
    ("orbit", -1, (("orbit",), ("orbit", "jitter"), ("truck", "pan"))),
)
CAMERA_TRAJECTORIES = tuple(dict.fromkeys(t for _, _, ts in CAMERA_SLOTS for t in ts))
CAM_MOVE_REL = (0.2, 0.3)  # dolly/truck/pedestal, x the camera-target distance (band 0.05-0.1 x scene scale)
PAN_DEG = (20.0, 32.0)  # band 5-10 degrees
TILT_DEG = (15.0, 22.0)
ORBIT_DEG_MIN = 12.0  # orbit: the pan equals the orbit angle; the chord's forward part must stay small
JITTER_PATH_M = 0.06  # hand-held jitter: camera path over the clip (static needs <= 2 x 0.05 x scale)
JITTER_ROT_PATH_DEG = 4.0  # summed rotation (static needs <= 2 x 5 degrees)


def _jitter(rng: np.random.Generator, eye: np.ndarray, target: np.ndarray) -> CameraMove:
    """Hand-held wobble: a smooth 1-2 cycles per clip, scaled so its path and summed rotation stay
    well inside the engine's "static" camera (docs/labels.md: path <= 2 x low band)."""
    freqs = tuple(float(f) for f in rng.uniform(0.6, 1.8, 3))
    phases = tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 18))
    move = CameraMove("jitter", float(rng.uniform(0.02, 0.04)), freqs, phases)
    cam = CameraSpec(eye=tuple(eye), target=tuple(target), fov_y_deg=50.0, moves=[move])
    poses = np.stack([camera_pose(cam, float(s)) for s in np.linspace(0, 1, 65)])
    path = float(np.linalg.norm(np.diff(poses[:, :3, 3], axis=0), axis=1).sum())
    steps = poses[1:, :3, :3] @ np.swapaxes(poses[:-1, :3, :3], 1, 2)
    rot = float(np.degrees(np.arccos(np.clip((np.trace(steps, axis1=1, axis2=2) - 1) / 2, -1, 1))).sum())
    move.amount *= min(1.0, JITTER_PATH_M / max(path, 1e-9), JITTER_ROT_PATH_DEG / max(rot, 1e-9))
    return move


def _sample_camera(
    rng: np.random.Generator, eye: np.ndarray, target: np.ndarray, fov: float,
    slot: tuple[str, int, tuple[tuple[str, ...], ...]],
) -> CameraSpec:
    """Camera trajectory of a slot of CAMERA_SLOTS; magnitudes clear of the engine's dead bands.
    Translations scale with the camera-target distance R (the scene scale the engine uses, the
    median depth, is about R)."""
    _, sign, trajectories = slot
    traj = trajectories[int(rng.integers(len(trajectories)))]
    r = float(np.linalg.norm(eye - target))
    r_h = float(np.linalg.norm((eye - target)[:2]))
    moves = []
    for kind in traj:
        if kind == "pan":
            moves.append(CameraMove("pan", sign * float(rng.uniform(*PAN_DEG))))
        elif kind == "tilt":
            moves.append(CameraMove("tilt", sign * float(rng.uniform(*TILT_DEG))))
        elif kind == "orbit":
            # the chord of an orbit also moves the camera forward by r_h (1 - cos a): keep that
            # under 0.03 R, well below the low band (0.05 x scale)
            a_max = max(ORBIT_DEG_MIN + 0.5, min(18.0, float(np.degrees(np.arccos(1 - 0.03 * r / r_h)))))
            moves.append(CameraMove("orbit", sign * float(rng.uniform(ORBIT_DEG_MIN, a_max))))
        elif kind in ("dolly", "truck", "pedestal"):
            moves.append(CameraMove(kind, sign * float(rng.uniform(*CAM_MOVE_REL)) * r))
        elif kind == "jitter":
            moves.append(_jitter(rng, eye, target))
        else:
            moves.append(CameraMove("static", 0.0))
    return CameraSpec(
        eye=tuple(float(v) for v in eye), target=tuple(float(v) for v in target), fov_y_deg=float(fov), moves=moves
    )
