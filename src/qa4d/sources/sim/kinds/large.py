"""Scene kind large: one big static object (a wall, a container, a long crate) that a close camera
never sees whole in one frame, while the camera sweeps along it (pan, tilt, truck or pedestal,
dealt evenly) so that the first and last views together do; or dollies in front of it. One or two
small objects translate between the camera and the big object.

This is the scene MultiSPA's object-size questions need (a 2-image set covering a dimension that
neither image covers alone), and its tilting and pedestal cameras give pitch and vertical camera
movement. A wall or crate under a horizontal sweep stands diagonal to the world axes, so that its
gravity-aligned width (the smaller side of its world box) overflows a view as well as its length.
The geometry is planned on the object's near face: a frame sees a stretch V of the
swept dimension D (V = 2 d tan(fov / 2) at face distance d, or the matching angle for pan and
tilt), with D = V + beta x sweep, beta in OVERFLOW, so one frame sees about V / D = 0.6-0.85 of D
and the union of the first and last frames overshoots both ends. Sizes are exact (primitive boxes):
`extra.sim.large.objects` gives each box and its gravity-aligned height, width and length.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.geometry.poses import rotation_about_axis
from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.layout import _path_clear
from qa4d.sources.sim.motion import scripted_pose
from qa4d.sources.sim.programs import HORIZONTAL, TRANSLATIONS, _reads_as, _translation
from qa4d.sources.sim.kinds.stage import _Stage, _vec
from qa4d.sources.sim.spec import CameraMove, CameraSpec, Motion, ObjectSpec

# (camera move, sign), dealt evenly over the scenes of the kind; the swept dimension of each move.
LARGE_SLOTS = tuple((m, s) for m in ("pan", "tilt", "truck", "pedestal", "dolly") for s in (1, -1))
SWEPT = {"pan": "length", "truck": "length", "tilt": "height", "pedestal": "height", "dolly": "none"}
VERTICAL_ASSETS = ("wall", "container")  # tall enough to sweep vertically
AXIS_ALIGNED = ("container",)  # stands within AXIS_SKEW_DEG of the world axes
AXIS_SKEW_DEG = 8.0
DIAGONAL_SKEW_DEG = 10.0  # wall and long crate under a horizontal sweep: within this of 45 degrees
LARGE_FOV_DEG = (46.0, 52.0)  # vertical field of view (narrower than mixed scenes: the object overflows)
LARGE_PAN_DEG = (22.0, 30.0)  # engine band 5-10 degrees
LARGE_TILT_DEG = (18.0, 24.0)
SWEEP_REL = (0.4, 0.55)  # truck / pedestal: x the swept dimension
OVERFLOW = (0.4, 0.6)  # beta: the object exceeds one view by beta x the sweep
DOLLY_REL = (0.2, 0.3)  # x the camera's distance to the face
MOVERS = (1, 2)  # small objects translating in front of the big one
CAMERA_GAP_M = 0.4  # movers stay this far (beyond their footprint, horizontally) from the camera


def _large(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    move, sign = LARGE_SLOTS[st.deal("kind_deck", len(LARGE_SLOTS))]
    pool = [n for n in st.names(large=True) if SWEPT[move] != "height" or n in VERTICAL_ASSETS]
    big = st.add(pool, xy=np.zeros(2))
    azim = float(rng.uniform(-np.pi, np.pi))  # the camera stands at this bearing from the object
    if big.asset in AXIS_ALIGNED:  # a thick box askew hides the corners that bound its world box
        azim = float(np.radians(90.0 * rng.integers(4) + rng.uniform(-AXIS_SKEW_DEG, AXIS_SKEW_DEG)))
    elif SWEPT[move] == "length":  # thin or seen from above: diagonal to the world axes, so its
        # world box is wide both ways and the sweep covers width (min) as well as length (max)
        azim = float(np.radians(45.0 + 90.0 * rng.integers(4) + rng.uniform(-DIAGONAL_SKEW_DEG, DIAGONAL_SKEW_DEG)))
    big.yaw_deg = float(np.degrees(azim)) + 90.0  # long side (object x) across the line of sight
    lx, ly, lz = big.approx_extent
    fov = float(rng.uniform(*LARGE_FOV_DEG))
    tan_y = np.tan(np.radians(fov) / 2)
    tan_x = tan_y * st.width / st.height
    beta = float(rng.uniform(*OVERFLOW))
    if move in ("pan", "tilt"):
        amount = float(rng.uniform(*(LARGE_PAN_DEG if move == "pan" else LARGE_TILT_DEG)))
        half = (lx if move == "pan" else lz) / 2
        view = np.degrees(2 * np.arctan(tan_x if move == "pan" else tan_y))
        theta = np.radians(view + beta * amount)  # the object's angular size at the face
        face = half / np.tan(theta / 2)
    elif move in ("truck", "pedestal"):
        dim = lx if move == "truck" else lz
        amount = float(rng.uniform(*SWEEP_REL)) * dim
        face = (dim - beta * amount) / (2 * (tan_x if move == "truck" else tan_y))
    else:  # dolly: the object about fills the view; no coverage planned
        face = lx / (2 * tan_x) * float(rng.uniform(1.0, 1.3))
        amount = float(rng.uniform(*DOLLY_REL)) * face
    back = np.array([np.cos(azim), np.sin(azim), 0.0])  # from the object towards the camera
    right = np.array([-np.sin(azim), np.cos(azim), 0.0])  # the camera's right (horizontal)
    if SWEPT[move] == "height" or big.asset != "crate_long":
        height = lz / 2  # level with the middle of the object
    else:
        height = float(rng.uniform(1.0, 1.4))  # above a low crate, looking down at it
    centre = np.array([0.0, 0.0, lz / 2])
    eye = centre + (face + ly / 2) * back
    eye[2] = height
    target = centre.copy()
    if move == "truck":  # the sweep's middle faces the object's centre
        eye -= sign * amount / 2 * right
        target -= sign * amount / 2 * right
    elif move == "pedestal":
        eye[2] -= sign * amount / 2
        target[2] = eye[2]
    camera = CameraSpec(eye=tuple(float(v) for v in eye), target=tuple(float(v) for v in target), fov_y_deg=fov,
                        moves=[CameraMove(move, sign * amount)])
    st.camera_at = lambda s: camera_pose(camera, s)
    st.camera_gap = CAMERA_GAP_M
    movers = _movers(st, big, camera, face)
    record = {
        "move": move,
        "unit": "deg" if move in ("pan", "tilt") else "m",
        "camera_amount": round(sign * amount, 6),
        "swept_dimension": SWEPT[move],
        "face_distance_m": round(float(face), 6),
        "overflow": round(beta, 6),
        "convention": "box_m: the box in the object's frame (x the long side); world_box_m: its axis-aligned "
                      "extents in the world (z up); height = dz, length = max(dx, dy), width = min(dx, dy)",
        "objects": [_size_row(big)],
        "movers": movers,
    }
    return camera, float(azim), record


def _size_row(obj: ObjectSpec) -> dict[str, Any]:
    """The exact box of a primitive-box object and its gravity-aligned sizes (MultiSPA's definition)."""
    ext = np.asarray(obj.approx_extent, dtype=np.float64)
    rot = rotation_about_axis((0, 0, 1), obj.yaw_deg)
    world = np.abs(rot) @ ext
    return {
        "id": obj.id, "category": obj.category, "box_m": _vec(ext), "yaw_deg": round(float(obj.yaw_deg), 6),
        "world_box_m": _vec(world), "height_m": round(float(world[2]), 6),
        "width_m": round(float(min(world[0], world[1])), 6), "length_m": round(float(max(world[0], world[1])), 6),
    }


def _clear_of_box(obj: ObjectSpec, big: ObjectSpec, margin: float = 0.05, samples: int = 9) -> bool:
    """Whether obj's footprint circle stays off the big object's footprint rectangle along its path."""
    yaw = np.radians(big.yaw_deg)
    to_local = np.array([[np.cos(yaw), np.sin(yaw)], [-np.sin(yaw), np.cos(yaw)]])
    half = np.asarray(big.approx_extent[:2]) / 2
    for s in np.linspace(0.0, 1.0, samples):
        off, _ = scripted_pose(obj, float(s))
        p = to_local @ (np.asarray(obj.position[:2]) + off[:2] - np.asarray(big.position[:2]))
        gap = np.maximum(np.abs(p) - half, 0.0)
        if np.hypot(*gap) < obj.radius + margin:
            return False
    return True


def _movers(st: _Stage, big: ObjectSpec, camera: CameraSpec, face: float) -> list[dict[str, Any]]:
    """1-2 small objects translating left/right/towards/away (from the first camera) between the
    camera and the big object, clear of it, of each other and of the camera."""
    rng = st.rng
    cam0 = camera_pose(camera, 0.0)
    eye, ahead = cam0[:2, 3], cam0[:2, 2] / np.linalg.norm(cam0[:2, 2])
    side = np.array([ahead[1], -ahead[0]])
    deck = st.deal("translate", len(HORIZONTAL))
    rows = []
    for j in range(int(rng.integers(MOVERS[0], MOVERS[1] + 1))):
        obj = st.add(st.names(agent=False), xy=eye + ahead)
        entry = TRANSLATIONS[HORIZONTAL[(deck + j) % len(HORIZONTAL)]]
        for _ in range(40):
            u = float(rng.uniform(0.4, 0.75))
            xy = eye + u * face * ahead + float(rng.uniform(-0.35, 0.35)) * u * face * side
            st.move_to(obj, xy)
            obj.motion = _translation(rng, obj, cam0, entry)
            others = [o for o in st.objects if o is not big]
            if (_clear_of_box(obj, big) and _path_clear(obj, others) and st.clear_of_camera(obj)
                    and _reads_as(obj, cam0)):
                rows.append({"id": obj.id, "direction": obj.motion.label,
                             "displacement_m": _vec(obj.motion.displacement)})
                break
        else:  # no clear path here: leave it out
            obj.motion = Motion()
            st.objects.pop()
            st.placed.pop()
    return rows
