"""Scene kind camera_motion: objects translating along the axis of a trucking, dollying or
panning camera, faster than it, slower, against it, or not at all; object, camera and apparent
(object minus camera) amounts are recorded."""

from __future__ import annotations


import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.layout import _place
from qa4d.sources.sim.programs import (
    DIR_RANGE,
    _first_view,
    _reads_as,
)
from qa4d.sources.sim.spec import CameraMove, CameraSpec, Motion, ObjectSpec
from qa4d.sources.sim.kinds.stage import _extras, _Stage, _vec

# camera_motion: (camera move, sign) and the object's relation to the camera, dealt evenly.
CAMERA_MOTION_SLOTS = (("truck", 1), ("truck", -1), ("dolly", 1), ("dolly", -1), ("pan", 1), ("pan", -1))
RELATIONS = ("faster", "slower", "against", "static")
FASTER = (1.6, 2.0)  # object amount / camera amount, same direction
SLOWER = (0.5, 0.62)
CAM_MOTION_REL = {"truck": (0.18, 0.24), "dolly": (0.22, 0.28)}  # x the camera-target distance (band 0.05-0.1)
CAM_MOTION_PAN_DEG = (15.0, 18.0)  # engine band 5-10 degrees


def _bearing_shift(eye: np.ndarray, p0: np.ndarray, axis: np.ndarray, theta_deg: float) -> float | None:
    """Signed length L along horizontal `axis` (2,) that turns the bearing of p0 (2,) seen from
    `eye` (2,) by theta_deg (+ = counter-clockwise from above); None if no such L in front."""
    v = p0 - eye
    phi = np.arctan2(v[1], v[0]) + np.radians(theta_deg)
    w = np.array([np.cos(phi), np.sin(phi)])
    den = axis[0] * w[1] - axis[1] * w[0]
    if abs(den) < 1e-9:
        return None
    length = -(v[0] * w[1] - v[1] * w[0]) / den
    return float(length) if (v + length * axis) @ w > 0 else None


def _bearing(eye: np.ndarray, p: np.ndarray) -> float:
    d = p - eye
    return float(np.degrees(np.arctan2(d[1], d[0])))


def _camera_motion(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    move, sign = CAMERA_MOTION_SLOTS[st.deal("kind_deck", len(CAMERA_MOTION_SLOTS))]
    rel0 = st.deal("kind_deck2", len(RELATIONS))
    camera, azim = st.world_camera(slot=("static", 0, (("static",),)))
    eye, target = np.asarray(camera.eye), np.asarray(camera.target)
    r = float(np.linalg.norm(eye - target))
    if move == "pan":
        amount = sign * float(rng.uniform(*CAM_MOTION_PAN_DEG))
    else:
        amount = sign * float(rng.uniform(*CAM_MOTION_REL[move])) * r
    camera.moves = [CameraMove(move, amount)]
    cam0, cam1 = camera_pose(camera, 0.0), camera_pose(camera, 1.0)
    cam_disp = cam1[:3, 3] - cam0[:3, 3]
    n_sub = int(rng.integers(2, 4))
    rows = []
    for j in range(n_sub):
        obj = st.add(st.names(agent=False))
        for rel in [RELATIONS[(rel0 + j + i) % len(RELATIONS)] for i in range(len(RELATIONS))]:
            row = _relate(st, obj, rel, move, camera)
            if row is not None:
                rows.append(row)
                break
    _extras(st, int(rng.integers(0, 2)))
    unit = "deg" if move == "pan" else "m"
    record = {
        "move": move,
        "unit": unit,
        "axis": {"truck": "lateral: first camera's right axis, + = right",
                 "dolly": "radial: horizontal line of sight from the first camera to the object, + = away",
                 "pan": "bearing from the camera centre about world up, + = counter-clockwise seen from above "
                        "(towards the left of the view)"}[move],
        "camera_amount": round(amount, 6),
        "camera_rate": round(amount / st.duration, 6),
        "camera_displacement_m": _vec(cam_disp),
        "objects": rows,
    }
    return camera, azim, record


def _relate(st: _Stage, obj: ObjectSpec, rel: str, move: str, camera: CameraSpec):
    """Give `obj` a motion with relation `rel` to the camera; its record row, or None if none fits.

    The object moves along the camera's axis and nothing else, as the engine measures it from the
    first camera (docs/labels.md): for a truck or pan perpendicular to its line of sight (lateral
    only), for a dolly along the camera's horizontal forward axis (radial only)."""
    rng = st.rng
    amount = camera.moves[0].amount
    cam0 = camera_pose(camera, 0.0)
    eye = cam0[:2, 3]
    ahead = cam0[:2, 2] / np.linalg.norm(cam0[:2, 2])
    axis0 = ahead if move == "dolly" else cam0[:2, 0] / np.linalg.norm(cam0[:2, 0])
    way = float(np.sign(amount)) * (-1.0 if rel == "against" else 1.0) * (-1.0 if move == "pan" else 1.0)
    reach = {"truck": abs(amount), "dolly": abs(amount), "pan": np.linalg.norm(eye) * np.tan(np.radians(abs(amount)))}
    for attempt in range(40):
        xy = _place(rng, st.placed[:-1], obj.radius, disc=1.2)
        if attempt < 20 and rel != "static":  # start on the far side, move in across the centre
            xy = -0.5 * way * axis0 * reach[move] * (1.8 if rel == "faster" else 1.0) + rng.normal(0.0, 0.3, 2)
        st.move_to(obj, xy)
        found = _relative_move(rng, obj, rel, move, amount, cam0)
        if found is None:
            continue
        obj_amount, cam_amount, disp = found
        obj.motion = Motion() if rel == "static" else Motion(
            kind="translate", displacement=(float(disp[0]), float(disp[1]), 0.0), start=0.0, end=1.0,
            label=("away" if obj_amount > 0 else "towards") if move == "dolly" else
            ("left" if obj_amount > 0 else "right") if move == "pan" else ("right" if obj_amount > 0 else "left"),
        )
        if not st.clear(obj):
            continue
        if rel != "static" and not _reads_as(obj, cam0):
            continue
        return _relation_row(st, obj, rel, move, obj_amount, cam_amount)
    obj.motion = Motion()
    return None


def _relative_move(rng, obj: ObjectSpec, rel: str, move: str, amount: float, cam0: np.ndarray):
    """(object amount, camera amount along the object's axis, displacement (2,)) for relation
    `rel`, from where `obj` stands; None if it cannot read clearly from there."""
    right, los, dist0 = _first_view(cam0, obj)
    eye, xy = cam0[:2, 3], np.asarray(obj.position[:2])
    ahead = cam0[:2, 2] / np.linalg.norm(cam0[:2, 2])
    tangent = np.array([los[1], -los[0]])  # horizontal, perpendicular to the line of sight, to the right
    cam_amount = amount * float(cam0[:2, 2] @ los) if move == "dolly" else amount  # its horizontal part
    if rel == "static":
        return 0.0, cam_amount, np.zeros(2)
    sign = (-1.0 if rel == "against" else 1.0) * float(np.sign(cam_amount))
    if rel == "against":
        mag = float(rng.uniform(*DIR_RANGE)) * dist0
        if move == "pan":  # as the bearing change of that lateral move
            mag = float(np.degrees(np.arctan(mag / np.linalg.norm(xy - eye))))
    else:
        mag = float(rng.uniform(*(FASTER if rel == "faster" else SLOWER))) * abs(cam_amount)
        if move != "pan" and mag < 0.13 * dist0:  # would not read clearly from here
            return None
    if move == "truck":  # lateral amount mag: along the tangent, which has no radial part
        return sign * mag, cam_amount, sign * mag / float(tangent @ right) * tangent
    if move == "dolly":  # radial amount mag: along the camera's forward axis, which has no lateral part
        return sign * mag, cam_amount, sign * mag / float(ahead @ los) * ahead
    length = _bearing_shift(eye, xy, tangent, sign * mag)
    if length is None:
        return None
    p1 = xy + length * tangent  # the exact bearing change of the straight move
    return _wrap180(_bearing(eye, p1) - _bearing(eye, xy)), cam_amount, length * tangent


def _wrap180(a: float) -> float:
    return float((a + 180.0) % 360.0 - 180.0)


def _relation_row(st: _Stage, obj: ObjectSpec, rel: str, move: str, obj_amount: float, cam_amount: float):
    apparent = obj_amount - cam_amount
    names = {"truck": ("right", "left"), "dolly": ("away", "towards"), "pan": ("left", "right")}[move]
    return {
        "id": obj.id,
        "relation": rel,
        "world_direction": "not moving" if rel == "static" else names[0 if obj_amount > 0 else 1],
        "apparent_direction": names[0 if apparent > 0 else 1],
        "object_amount": round(float(obj_amount), 6),
        "camera_amount": round(float(cam_amount), 6),
        "apparent_amount": round(float(apparent), 6),
        "object_rate": round(float(obj_amount) / st.duration, 6),
        "apparent_rate": round(float(apparent) / st.duration, 6),
        "ratio": round(abs(float(obj_amount)) / abs(float(cam_amount)), 6),
        "displacement_m": _vec(obj.motion.displacement),
    }
