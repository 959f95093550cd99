"""The simulator's all-frames track visibility is the frame-by-frame depth test and owner check
of `qa4d.geometry.tracks` (the definition), bit for bit."""

import numpy as np

from qa4d.geometry.camera import intrinsics_from_fov, look_at, transform_points
from qa4d.geometry.tracks import depth_test_visibility, sample_pixels, visual_tracks
from qa4d.sources.sim.tracks import track_visibility
from qa4d.sources.sim.tracks import transform_points as sim_transform_points


def test_track_visibility_equals_the_frame_by_frame_definition():
    rng = np.random.default_rng(3)
    t_len, h, w, n = 5, 24, 32, 400
    k = np.tile(intrinsics_from_fov(w, h, 60.0), (t_len, 1, 1))
    c2w = np.stack([look_at(np.array([3.0, 0.3 * t, 1.0]), np.zeros(3)) for t in range(t_len)])
    tracks = rng.normal(0.0, 1.5, (n, t_len, 3))  # some behind the camera, some outside the image
    owners = rng.integers(0, 4, n).astype(np.int32)
    depth = rng.uniform(0.0, 6.0, (t_len, h, w)).astype(np.float32)
    depth[:, :3] = 0.0  # unknown depth
    mask = rng.integers(0, 4, (t_len, h, w)).astype(np.int32)
    uv, z = visual_tracks(tracks, k, c2w)
    want = depth_test_visibility(uv, z, depth)
    for t in range(t_len):
        want[:, t] &= sample_pixels(mask[t], uv[:, t], fill=-1) == owners
    got = track_visibility(tracks, owners, k, c2w, depth, mask)
    assert got.dtype == bool and np.array_equal(got, want)
    assert 0 < want.sum() < want.size  # the case is not trivial
    # the simulator's masks are uint8: the same answer (no -1 sentinel that uint8 would wrap to 255)
    assert np.array_equal(track_visibility(tracks, owners, k, c2w, depth, mask.astype(np.uint8)), want)
    owners255 = np.where(owners == 3, 255, owners).astype(np.int32)
    mask255 = np.where(mask == 3, 255, mask).astype(np.uint8)
    assert np.array_equal(track_visibility(tracks, owners255, k, c2w, depth, mask255), want)


def test_sim_transform_points_is_the_geometry_one():
    """The simulator's elementwise transform (no einsum) against geometry.camera.transform_points
    for the two broadcast shapes it is used with; and against the definition R p + t."""
    rng = np.random.default_rng(5)
    t_len = 7
    poses = np.stack([look_at(rng.normal(0, 3, 3), rng.normal(0, 1, 3)) for _ in range(t_len)])
    for transform, points in [(poses[None], rng.normal(0, 5, (50, t_len, 3))), (poses, rng.normal(0, 1, (40, 1, 3)))]:
        got = sim_transform_points(transform, points)
        want = transform_points(transform, points)
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
        direct = np.stack([[poses[t, :3, :3] @ p[t if p.shape[0] == t_len else 0] + poses[t, :3, 3]
                            for t in range(t_len)] for p in points.reshape(len(points), -1, 3)])
        np.testing.assert_allclose(got, direct, rtol=0, atol=1e-12)
