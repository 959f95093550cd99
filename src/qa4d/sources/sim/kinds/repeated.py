"""Scene kind repeated: one object going back and forth, or hopping, a known number of times, or
2-4 objects starting one after another; counts and times recorded. Turning points fall on frames."""

from __future__ import annotations

from typing import Any

import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.layout import _place
from qa4d.sources.sim.programs import (
    DIR_RANGE,
    GRAVITY,
    HORIZONTAL,
    TRANSLATION_DECK,
    TRANSLATIONS,
    _first_view,
    _translation,
)
from qa4d.sources.sim.spec import Motion
from qa4d.sources.sim.kinds.stage import _extras, _settle_clear, _Stage, _vec

# repeated: (event, count)
REPEAT_DECK = tuple((e, c) for e in ("oscillate", "hop") for c in (1, 2, 3)) + tuple(("sequence", n) for n in (2, 3, 4))
HOP_SECONDS = (0.45, 0.7)  # duration of one hop


def _repeated(st: _Stage, num_objects: tuple[int, int]):
    event, count = REPEAT_DECK[st.deal("kind_deck", len(REPEAT_DECK))]
    if st.intervals < 2:
        raise ValueError(f"scene kind 'repeated' needs at least 3 frames (got {st.num_frames})")
    camera, azim = st.world_camera()
    cam0 = camera_pose(camera, 0.0)
    record = {"oscillate": _oscillate, "hop": _hop, "sequence": _sequence}[event](st, count, cam0)
    _extras(st, int(st.rng.integers(1, 3)))
    return camera, azim, record


def _oscillate(st: _Stage, cycles: int, cam0: np.ndarray) -> dict[str, Any]:
    """One object goes back and forth `cycles` times (2 cycles legs of m frames each), at constant
    speed, and ends where it started; every turning point is on a frame."""
    rng = st.rng
    cycles = max(1, min(cycles, st.intervals // 2))
    m = max(1, min(st.intervals // (2 * cycles), int(round(1.5 * st.fps))))
    f0 = int(rng.integers(0, st.intervals - 2 * cycles * m + 1))
    obj = st.add(st.names(agent=False))
    for _ in range(40):
        st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.0))
        right, los, dist0 = _first_view(cam0, obj)
        radial = bool(rng.random() < 0.5)
        tangent = np.array([los[1], -los[0]])  # each leg purely lateral (or radial) from the first camera
        axis = los if radial else tangent / float(tangent @ right)
        d = float(rng.choice([-1.0, 1.0]) * rng.uniform(*DIR_RANGE) * dist0)
        label = ("away" if d > 0 else "towards") if radial else ("right" if d > 0 else "left")
        obj.motion = Motion(kind="oscillate", label=label, displacement=(d * axis[0], d * axis[1], 0.0),
                            count=cycles, start=f0 / st.intervals, end=(f0 + 2 * cycles * m) / st.intervals)
        if st.clear(obj):
            break
    else:  # no clear path for it: it stands still and another object hops instead
        obj.motion = Motion()
        _settle_clear(st, obj)
        return _hop(st, cycles, cam0)
    turns = [f0 + k * m for k in range(1, 2 * cycles)]
    return {
        "event": "oscillate", "object": obj.id, "count": cycles, "cycles": cycles, "legs": 2 * cycles,
        "reversals": 2 * cycles - 1, "reversal_times_s": [st.seconds(f) for f in turns],
        "start_s": st.seconds(f0), "end_s": st.seconds(f0 + 2 * cycles * m),
        "amplitude_m": round(float(np.linalg.norm(obj.motion.displacement)), 6),
        "axis": _vec(np.asarray(obj.motion.displacement) / np.linalg.norm(obj.motion.displacement)),
        "first_direction": obj.motion.label,
    }


def _hop(st: _Stage, hops: int, cam0: np.ndarray) -> dict[str, Any]:
    """One object hops `hops` times in place: each hop a parabola under gravity lasting 2 m frames,
    launch, apex and landing on frames."""
    rng = st.rng
    m = max(1, int(round(rng.uniform(*HOP_SECONDS) * st.fps / 2)))
    m = min(m, max(1, st.intervals // 2))
    hops = max(1, min(hops, st.intervals // (2 * m)))
    f0 = int(rng.integers(0, st.intervals - 2 * m * hops + 1))
    tau = 2 * m / st.fps
    h = GRAVITY * tau * tau / 8.0
    obj = st.add(st.names(agent=False))
    obj.motion = Motion(kind="hop", label="hop", displacement=(0.0, 0.0, h), count=hops,
                        start=f0 / st.intervals, end=(f0 + 2 * m * hops) / st.intervals)
    return {
        "event": "hop", "object": obj.id, "count": hops, "hops": hops, "reversals": 2 * hops - 1,
        "launch_times_s": [st.seconds(f0 + 2 * m * k) for k in range(hops)],
        "apex_times_s": [st.seconds(f0 + 2 * m * k + m) for k in range(hops)],
        "landing_times_s": [st.seconds(f0 + 2 * m * (k + 1)) for k in range(hops)],
        "apex_height_m": round(h, 6), "hop_duration_s": round(tau, 6), "gravity_mps2": GRAVITY,
    }


def _sequence(st: _Stage, n: int, cam0: np.ndarray) -> dict[str, Any]:
    """n objects start moving one after another, g frames apart, each moving for 2 g frames."""
    rng = st.rng
    n = max(1, min(n, st.intervals - 1))
    g = max(1, st.intervals // (n + 1))
    f0 = int(rng.integers(0, st.intervals - (n + 1) * g + 1))
    first = st.deal("translate", len(TRANSLATION_DECK))
    movers = []
    for j in range(n):
        obj = st.add(st.names(agent=False))
        entry = TRANSLATIONS[HORIZONTAL[(first + j) % len(HORIZONTAL)]]
        s0, s1 = (f0 + len(movers) * g) / st.intervals, (f0 + (len(movers) + 2) * g) / st.intervals
        for _ in range(40):
            st.move_to(obj, _place(rng, st.placed[:-1], obj.radius, disc=1.2))
            m = _translation(rng, obj, cam0, entry)
            obj.motion = Motion(kind="translate", label=m.label, displacement=m.displacement, start=s0, end=s1)
            if st.clear(obj):
                movers.append(obj)
                break
        else:  # no clear path: it stands still and the sequence is shorter
            obj.motion = Motion()
            _settle_clear(st, obj)
    n = len(movers)
    if n == 0:
        return _hop(st, 1, cam0)
    order = list(rng.permutation(n))  # which object starts first: not always the lowest id
    starts = {movers[k].id: j for j, k in enumerate(order)}
    for obj in movers:  # re-time in the drawn order (paths stay the same lines)
        j = starts[obj.id]
        obj.motion.start, obj.motion.end = (f0 + j * g) / st.intervals, (f0 + (j + 2) * g) / st.intervals
    ok = all(st.clear(o) for o in movers)
    if not ok:  # re-timing made two paths meet: keep the id order, whose paths were checked
        for j, obj in enumerate(movers):
            obj.motion.start, obj.motion.end = (f0 + j * g) / st.intervals, (f0 + (j + 2) * g) / st.intervals
        starts = {o.id: j for j, o in enumerate(movers)}
    ids = sorted(starts, key=starts.get)
    return {
        "event": "start", "count": n, "order": ids,
        "start_times_s": [st.seconds(f0 + starts[i] * g) for i in ids],
        "end_times_s": [st.seconds(f0 + (starts[i] + 2) * g) for i in ids],
    }
