"""Scene kind spinning: 2-4 objects spinning in place about world up at distinct rates (each
1.6x the next), either way, next to objects that do not spin."""

from __future__ import annotations


import numpy as np

from qa4d.sources.sim.spec import Motion
from qa4d.sources.sim.kinds.stage import _extras, _Stage

YAW_CONVENTION = "yaw about world +z (up); positive = counter-clockwise seen from above (ccw), negative = clockwise (cw)"
# spinning: (number of spinning objects, how many of them counter-clockwise)
SPIN_DECK = tuple((n, ccw) for n in (2, 3, 4) for ccw in range(n + 1))
SPIN_RATIO = 1.6  # each spinner's rate is 1.6x the next slower one's
SPIN_TOTAL_DEG = (60.0, 80.0)  # turn of the slowest spinner over the clip (engine band 15-30 degrees)
SPIN_MAX_STEP_DEG = 40.0  # fastest turn per frame, well below aliasing


def _spinning(st: _Stage, num_objects: tuple[int, int]):
    rng = st.rng
    n, n_ccw = SPIN_DECK[st.deal("kind_deck", len(SPIN_DECK))]
    camera, azim = st.world_camera()
    signs = rng.permutation([1.0] * n_ccw + [-1.0] * (n - n_ccw))
    w0 = min(float(rng.uniform(*SPIN_TOTAL_DEG)) / st.duration,
             SPIN_MAX_STEP_DEG * st.fps / SPIN_RATIO ** (n - 1))
    rates = w0 * SPIN_RATIO ** rng.permutation(n).astype(np.float64)
    rows = []
    for sgn, w in zip(signs, rates):
        obj = st.add(st.names(spin_clear=True))
        yaw = float(sgn * w * st.duration)
        obj.motion = Motion(kind="rotate", label="ccw" if sgn > 0 else "cw", yaw_deg=yaw, start=0.0, end=1.0)
        rows.append({"id": obj.id, "direction": obj.motion.label, "yaw_rate_deg_s": round(float(sgn * w), 6),
                     "total_yaw_deg": round(yaw, 6)})
    still = _extras(st, int(rng.integers(1, 3)))
    record = {
        "convention": YAW_CONVENTION,
        "objects": rows,
        "not_spinning": still,
        "counts": {"spinning": n, "ccw": int(n_ccw), "cw": int(n - n_ccw)},
        "rate_ratio": SPIN_RATIO,
    }
    return camera, azim, record
