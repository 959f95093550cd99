"""Scene kind ego: the camera rides on a driving agent (fixed mount, looking forward), among
objects ahead of it."""

from __future__ import annotations


import numpy as np

from qa4d.sources.sim.deal import _pick
from qa4d.sources.sim.layout import _path_clear, _place
from qa4d.sources.sim.motion import closed_form_object_pose, heading_of, upright_rotation
from qa4d.sources.sim.programs import (
    TRANSLATION_DECK,
    TRANSLATIONS,
    _reads_as,
    _translation,
)
from qa4d.sources.sim.spec import CameraSpec, Motion, ObjectSpec
from qa4d.sources.sim.kinds.stage import _Stage

# ego: (move, turn) of the agent carrying the camera
EGO_DECK = (
    ("forward", "straight"), ("forward", "left"), ("forward", "right"),
    ("stationary", "left"), ("stationary", "right"), ("backward", "straight"),
)
EGO_PITCH_DEG = (12.0, 20.0)  # camera looks down by this much
EGO_ABOVE_M = 0.12  # camera height above the agent's top


def _mount(obj: ObjectSpec, pitch_deg: float) -> tuple[np.ndarray, dict[str, float]]:
    """Camera -> object frame (4, 4) of a camera at the front of the agent's top, looking along
    its forward axis, pitched down by pitch_deg; and the offsets used."""
    up_rot = upright_rotation(obj)
    fwd = up_rot @ np.asarray(obj.forward_axis, dtype=np.float64)  # upright frame, horizontal
    fwd[2] = 0.0
    fwd /= np.linalg.norm(fwd)
    ext = np.asarray(obj.approx_extent)
    ahead = 0.5 * float(np.abs(fwd) @ ext) * 0.8
    above = 0.5 * float(ext[2]) + EGO_ABOVE_M
    up = np.array([0.0, 0.0, 1.0])
    p = np.radians(pitch_deg)
    z = np.cos(p) * fwd - np.sin(p) * up
    x = np.cross(fwd, up)
    y = np.cross(z, x)
    mount = np.eye(4)
    mount[:3, :3] = up_rot.T @ np.stack([x, y, z], axis=1)
    mount[:3, 3] = up_rot.T @ (ahead * fwd + above * up)
    return mount, {"ahead_m": round(ahead, 6), "above_centre_m": round(above, 6), "pitch_deg": round(pitch_deg, 6)}


def _ego(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    move, turn = EGO_DECK[st.deal("kind_deck", len(EGO_DECK))]
    agent = st.add(st.names(agent=True), xy=np.zeros(2))
    r0 = {"forward": (1.5, 1.8), "backward": (0.8, 1.1), "stationary": (1.2, 1.6)}[move]
    azim = float(rng.uniform(-np.pi, np.pi))
    sign = {"straight": 0.0, "left": 1.0, "right": -1.0}[turn]
    h0 = heading_of(agent, 0.0)
    base = float(np.degrees(np.arctan2(h0[1], h0[0])))  # heading at yaw 0
    for _ in range(40):
        r = float(rng.uniform(*r0))
        st.move_to(agent, np.array([r * np.cos(azim), r * np.sin(azim)]))
        if move == "stationary":
            yaw = sign * float(rng.uniform(40, 70))
            motion = Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw, start=0.0, end=1.0)
        else:
            yaw = sign * float(rng.uniform(25, 40))
            dist = float(rng.uniform(0.5, 0.9)) * (1.0 if move == "forward" else -1.0)
            names = {"straight": "straight", "left": "turn_left", "right": "turn_right"}
            label = names[turn] if move == "forward" else "backward"
            motion = Motion(kind="agent", label=label, yaw_deg=yaw, distance=dist)
        head = np.degrees(azim + np.pi) + rng.uniform(-15, 15) - yaw / 2  # towards the centre
        agent.yaw_deg = float(head - base)
        agent.motion = motion
        if _path_clear(agent, st.objects):
            break
    pitch = float(rng.uniform(*EGO_PITCH_DEG))
    mount, offsets = _mount(agent, pitch)
    fov = float(rng.uniform(55.0, 65.0))
    cam0 = closed_form_object_pose(agent, 0.0) @ mount
    st.camera_at = lambda s: closed_form_object_pose(agent, s) @ mount
    st.camera_gap, st.camera_front = 0.4, False  # the agent drives up to things; it may turn away
    camera = CameraSpec(eye=tuple(float(v) for v in cam0[:3, 3]),
                        target=tuple(float(v) for v in cam0[:3, 3] + cam0[:3, 2]), fov_y_deg=fov, moves=[],
                        mount=agent.id, mount_pose=tuple(float(v) for v in mount.reshape(-1)))
    k = int(rng.integers(max(num_objects[0], 4), max(num_objects[1] - 2, 5) + 1))
    deck = st.deal("translate", len(TRANSLATION_DECK))
    sweep = (min(0.0, agent.motion.yaw_deg) - 20.0, max(0.0, agent.motion.yaw_deg) + 20.0)
    for j in range(k - 1):
        obj = st.add(st.names(agent=False))
        kind = _pick(rng, ["static", "translate", "rotate"], [0.3, 0.5, 0.2])
        lo, hi = sweep[0] + (sweep[1] - sweep[0]) * j / (k - 1), sweep[0] + (sweep[1] - sweep[0]) * (j + 1) / (k - 1)
        for _ in range(40):  # ahead of the camera, 0.9-2.2 m away, spread over the bearings it sweeps
            ang = np.arctan2(cam0[1, 2], cam0[0, 2]) + np.radians(rng.uniform(lo, hi))
            d = float(rng.uniform(0.9, 2.2))
            st.move_to(obj, cam0[:2, 3] + d * np.array([np.cos(ang), np.sin(ang)]))
            if kind == "translate":
                entry = TRANSLATIONS[TRANSLATION_DECK[(deck + j) % len(TRANSLATION_DECK)]]
                obj.position = (obj.position[0], obj.position[1], 0.0)
                obj.motion = _translation(rng, obj, cam0, entry)
            elif kind == "rotate":
                yaw = float(rng.uniform(60, 150)) * float(rng.choice([-1.0, 1.0]))
                obj.motion = Motion(kind="rotate", label="ccw" if yaw > 0 else "cw", yaw_deg=yaw)
            if st.clear(obj) and (kind != "translate" or _reads_as(obj, cam0)):
                break
        else:  # nothing fitted: stand still, where it was put if that is clear, else anywhere clear
            obj.position = (obj.position[0], obj.position[1], 0.0)
            obj.motion = Motion()
            for _ in range(30):
                if _path_clear(agent, st.objects) and st.clear_of_camera(obj):
                    break
                st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.2))
    record = {"agent": agent.id, "agent_motion": agent.motion.label, "move": move, "turn": turn,
              "mount": "front of the agent's top, looking along its forward axis", **offsets}
    return camera, azim, record
