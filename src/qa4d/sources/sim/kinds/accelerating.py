"""Scene kind accelerating: objects under constant acceleration (speeding up or slowing down)
next to one at constant speed."""

from __future__ import annotations


import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.layout import _place
from qa4d.sources.sim.programs import (
    HORIZONTAL,
    TRANSLATIONS,
    _translation,
)
from qa4d.sources.sim.spec import Motion
from qa4d.sources.sim.kinds.stage import _extras, _settle_clear, _Stage, _vec

# accelerating: roles dealt in turn to the moving objects of a scene
ROLES = ("speeding_up", "slowing_down", "constant")
EASE = (0.6, 1.0)  # |ease|: final / initial speed (1 + e) / (1 - e) >= 4


def _accelerating(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    role0 = st.deal("kind_deck", len(ROLES))
    dir0 = st.deal("kind_deck2", len(HORIZONTAL))
    camera, azim = st.world_camera()
    cam0 = camera_pose(camera, 0.0)
    rows = []
    for j in range(int(rng.integers(2, 4))):
        role = ROLES[(role0 + j) % len(ROLES)]
        entry = TRANSLATIONS[HORIZONTAL[(dir0 + j) % len(HORIZONTAL)]]
        obj = st.add(st.names(agent=False))
        ease = {"speeding_up": 1.0, "slowing_down": -1.0, "constant": 0.0}[role] * float(rng.uniform(*EASE))
        for attempt in range(40):
            xy = _place(rng, st.placed[:-1], obj.radius, disc=1.2)
            st.move_to(obj, xy)
            m = _translation(rng, obj, cam0, entry)
            if attempt < 30:  # start on the far side and move in towards the centre
                d = np.asarray(m.displacement[:2])
                st.move_to(obj, -d * rng.uniform(0.3, 1.0) + rng.normal(0.0, 0.3, 2))
                m = _translation(rng, obj, cam0, entry)
            kind = "translate" if role == "constant" else "accelerate"
            obj.motion = Motion(kind=kind, label=m.label, displacement=m.displacement, ease=ease, start=0.0, end=1.0)
            if st.clear(obj):
                break
        else:  # no clear path: it stands still, off the others' paths
            obj.motion = Motion()
            _settle_clear(st, obj)
            continue
        dist = float(np.linalg.norm(obj.motion.displacement))
        t = st.duration
        rows.append({
            "id": obj.id, "role": role, "direction": obj.motion.label,
            "direction_world": _vec(np.asarray(obj.motion.displacement) / dist),
            "acceleration_mps2": round(2.0 * ease * dist / t**2, 6),
            "initial_speed_mps": round((1.0 - ease) * dist / t, 6),
            "final_speed_mps": round((1.0 + ease) * dist / t, 6),
            "distance_m": round(dist, 6), "start_s": 0.0, "end_s": round(t, 6),
        })
    _extras(st, int(rng.integers(0, 2)))
    record = {
        "convention": "acceleration_mps2 is along the direction of motion: > 0 speeding up, < 0 slowing down; "
                      "constant over [start_s, end_s]",
        "objects": rows,
    }
    return camera, azim, record
