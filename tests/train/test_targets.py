"""The teacher's targets against closed forms (a plane, a translating object, a moving camera) and
against a simulated scene's own point tracks."""

from __future__ import annotations

import numpy as np
import pytest

from qa4d.train.targets import camera_rays, flow_and_motion

F, W, H = 50.0, 16, 12
K = np.array([[F, 0, W / 2], [0, F, H / 2], [0, 0, 1.0]])


def translation(x, y=0.0, z=0.0):
    m = np.eye(4)
    m[:3, 3] = (x, y, z)
    return m


def test_translating_object_on_a_static_background():
    depth = np.full((H, W), 2.0)                         # a fronto-parallel plane at z = 2 m
    instance = np.zeros((H, W), np.int32)
    instance[3:6, 4:9] = 7                               # object 7 covers these pixels
    obj_t, obj_t1 = translation(1.0, 2.0, 3.0)[None], translation(1.1, 2.0, 3.0)[None]   # +0.1 m along x
    flow, motion, valid = flow_and_motion(depth, instance, K, K, np.eye(4), np.eye(4), np.array([7]), obj_t, obj_t1)
    assert valid.all()
    want = np.zeros((H, W, 2))
    want[instance == 7, 0] = F * 0.1 / 2.0               # u moves by f * dX / Z pixels
    np.testing.assert_allclose(flow, want, atol=1e-9)
    np.testing.assert_array_equal(motion, (instance == 7).astype(float))


def test_moving_camera_static_scene_and_invalid_pixels():
    depth = np.full((H, W), 4.0)
    depth[0, 0] = 0.0                                    # no surface
    instance = np.zeros((H, W), np.int32)
    flow, motion, valid = flow_and_motion(depth, instance, K, K, np.eye(4), translation(0.2), np.zeros(0, int),
                                          np.zeros((0, 4, 4)), np.zeros((0, 4, 4)))
    assert not valid[0, 0] and valid.sum() == H * W - 1
    np.testing.assert_allclose(flow[valid][:, 0], -F * 0.2 / 4.0)   # the camera moves right: the image left
    np.testing.assert_allclose(flow[valid][:, 1], 0.0, atol=1e-12)
    assert motion.sum() == 0                              # nothing moves in the world


def test_camera_rays_are_pluecker_coordinates_in_the_reference_frame():
    rays = camera_rays(K, translation(0.5, 0.0, 0.0), np.eye(4), H, W)
    d, m = rays[..., :3], rays[..., 3:]
    np.testing.assert_allclose(np.linalg.norm(d, axis=-1), 1.0)
    # the centre pixel column looks along +z (up to half a pixel); moment = c x d with c = (0.5, 0, 0)
    u, v = (np.arange(W) + 0.5 - W / 2) / F, (np.arange(H) + 0.5 - H / 2) / F
    dirs = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((H, W))), -1)
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    np.testing.assert_allclose(d, dirs, atol=1e-12)
    np.testing.assert_allclose(m, np.cross(np.array([0.5, 0, 0]), dirs), atol=1e-12)
    # the same camera as its own reference: zero moment
    np.testing.assert_allclose(camera_rays(K, translation(0.5), translation(0.5), H, W)[..., 3:], 0.0, atol=1e-12)


@pytest.mark.slow
def test_flow_agrees_with_the_simulated_point_tracks(tmp_path):
    """The flow at a tracked point's pixel carries it to where the simulator's track projects next."""
    from qa4d.cli import main
    from qa4d.geometry.camera import project_world
    from qa4d.scene.format import iter_scene_dirs, load_scene
    from qa4d.train.targets import scene_targets

    assert main(["simulate", "--out", str(tmp_path), "--scenes", "1", "--frames", "4", "--size", "64", "--seed", "3"]) == 0
    scene = load_scene(next(iter_scene_dirs(tmp_path)))
    tg = scene_targets(scene, np.array([0, 1]))
    uv0, _ = project_world(scene.tracks_world[:, 0].astype(float), scene.intrinsics[0], scene.cam_to_world[0])
    uv1, _ = project_world(scene.tracks_world[:, 1].astype(float), scene.intrinsics[1], scene.cam_to_world[1])
    errors, moving, shifts = [], [], []
    for n in np.flatnonzero(scene.tracks_visible[:, 0] & scene.tracks_visible[:, 1]):
        col, row = np.floor(uv0[n]).astype(int)
        if not (1 <= row < 63 and 1 <= col < 63):
            continue
        # away from object borders, the flow field is smooth: take the pixel the point falls in
        patch = scene.instance_mask[0][row - 1:row + 2, col - 1:col + 2]
        if (patch != patch[1, 1]).any() or not tg["valid_flow"][0, row, col]:
            continue
        errors.append(np.linalg.norm(uv0[n] + tg["flow"][0, row, col] - uv1[n]))
        shifts.append(np.linalg.norm(uv1[n] - uv0[n]))
        moving.append(tg["motion"][0, row, col] == float(scene.tracks_object[n] != 0 and np.linalg.norm(
            scene.tracks_world[n, 1] - scene.tracks_world[n, 0]) > 1e-3))
    assert len(errors) >= 20
    assert np.median(shifts) > 1.0                          # the points really move in the image
    assert np.median(errors) < 0.1 and np.mean(moving) > 0.95
