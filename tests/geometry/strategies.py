"""Hypothesis strategies for cameras, poses and points."""

import numpy as np
from hypothesis import strategies as st

from qa4d.geometry import intrinsics_from_fov

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def rotations(draw):
    """Uniformly spread rotation matrices from unit quaternions."""
    q = np.array(draw(st.lists(st.floats(-1, 1, **finite), min_size=4, max_size=4)))
    if np.linalg.norm(q) < 1e-3:
        q = np.array([1.0, 0, 0, 0])
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])


@st.composite
def rigid_transforms(draw, scale=10.0):
    t = np.eye(4)
    t[:3, :3] = draw(rotations())
    t[:3, 3] = draw(st.lists(st.floats(-scale, scale, **finite), min_size=3, max_size=3))
    return t


@st.composite
def intrinsics(draw):
    w = draw(st.integers(16, 640))
    h = draw(st.integers(16, 640))
    return intrinsics_from_fov(w, h, draw(st.floats(20, 120, **finite))), w, h


def points(n_min=1, n_max=20, lo=-5.0, hi=5.0):
    return st.integers(n_min, n_max).flatmap(
        lambda n: st.lists(st.lists(st.floats(lo, hi, **finite), min_size=3, max_size=3), min_size=n, max_size=n)
    ).map(np.array)
