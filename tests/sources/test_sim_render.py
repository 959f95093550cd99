"""Renderer conventions and object geometry against real TinyRenderer output."""

from __future__ import annotations

import numpy as np
import pytest

from qa4d.geometry.camera import (
    intrinsics_from_fov,
    invert_rigid,
    look_at,
    pixel_grid,
    project_world,
    transform_points,
    unproject_to_world,
)
from qa4d.sources.sim.meshes import body_triangles, extent_and_centre, load_mesh, primitive_triangles, sample_surface
from qa4d.sources.sim.physics import silence_stdout
from qa4d.sources.sim.render import Renderer, RenderSettings, depth_buffer_to_z, gl_projection_matrix, gl_view_matrix
from qa4d.sources.sim.motion import upright_rotation
from qa4d.sources.sim.scenario import make_object, make_spec
from qa4d.sources.sim.spec import CameraMove, CameraSpec, load_assets
from qa4d.sources.sim.simulate import simulate_spec

with silence_stdout():
    import pybullet as p
    import pybullet_data
    from pybullet_utils.bullet_client import BulletClient


def test_depth_buffer_conversion_inverts_opengl_projection():
    near, far = 0.1, 30.0
    z = np.array([[0.1, 0.5, 2.0, 29.0]])
    ndc = (far + near) / (far - near) - 2 * far * near / ((far - near) * z)
    buf = 0.5 * ndc + 0.5
    assert np.allclose(depth_buffer_to_z(buf, near, far), z, rtol=1e-5)
    assert depth_buffer_to_z(np.ones((1, 1)), near, far)[0, 0] == 0.0


def test_gl_matrices_map_opencv_points_like_our_projection():
    k = intrinsics_from_fov(96, 64, 50.0)
    c2w = look_at([2.0, -3.0, 1.5], [0.2, 0.1, 0.3])
    pts = np.array([[0.2, 0.1, 0.3], [0.5, -0.4, 0.0], [-0.3, 0.6, 0.8]])
    uv, z = project_world(pts, k, c2w)
    view = np.asarray(gl_view_matrix(c2w)).reshape(4, 4).T
    proj = np.asarray(gl_projection_matrix(k, 96, 64, 0.05, 40.0)).reshape(4, 4).T
    clip = (proj @ view @ np.c_[pts, np.ones(3)].T).T
    ndc = clip[:, :3] / clip[:, 3:]
    u = (ndc[:, 0] + 1) / 2 * 96
    v = (1 - ndc[:, 1]) / 2 * 64
    assert np.allclose(np.c_[u, v], uv)
    assert np.allclose(clip[:, 3], z)  # w_clip is the OpenCV z-depth


def test_meshes_and_primitives():
    rng = np.random.default_rng(0)
    box = primitive_triangles(3, (0.2, 0.4, 0.6))
    ext, centre = extent_and_centre(box)
    assert np.allclose(ext, [0.2, 0.4, 0.6]) and np.allclose(centre, 0)
    pts = sample_surface(box, 500, rng)
    on_face = np.isclose(np.abs(pts), [0.1, 0.2, 0.3], atol=1e-9).any(axis=1)
    assert on_face.all() and (np.abs(pts) <= [0.1 + 1e-9, 0.2 + 1e-9, 0.3 + 1e-9]).all()
    sph = sample_surface(primitive_triangles(2, (0.5,), segments=64), 300, rng)
    assert np.allclose(np.linalg.norm(sph, axis=1), 0.5, atol=0.01)
    v, f = load_mesh(pybullet_data.getDataPath() + "/cube.obj")
    assert f.max() < len(v) and np.allclose(v.max(0) - v.min(0), 1.0)


def test_catalog_extents_match_loaded_shapes():
    """assets.json unit_extent (placement) agrees with the meshes PyBullet renders."""
    cat = load_assets()
    with silence_stdout():
        c = BulletClient(connection_mode=p.DIRECT)
    try:
        for name, a in cat["objects"].items():
            if "urdf" not in a:
                continue
            with silence_stdout():
                b = c.loadURDF(pybullet_data.getDataPath() + "/" + a["urdf"].format(index=0))
            tris = body_triangles(c, b)
            rot = upright_rotation(make_object(1, name))
            w = tris.reshape(-1, 3) @ rot.T
            ext = w.max(0) - w.min(0)
            tol = 0.6 if name == "toy" else 0.05  # random_urdfs vary; the catalog holds a typical size
            assert np.allclose(ext, a["unit_extent"], rtol=tol, atol=0.005), (name, ext)
            c.removeBody(b)
    finally:
        c.disconnect()


@pytest.fixture(scope="module")
def still_scene():
    objs = [
        make_object(1, "cube", (0.5, -0.3, 0), yaw_deg=20, colour="red"),
        make_object(2, "duck", (-0.4, 0.3, 0), yaw_deg=-60, colour="blue"),
        make_object(3, "racecar", (0.1, 0.7, 0), yaw_deg=45, colour="green"),
        make_object(4, "ball", (-0.5, -0.5, 0), colour="yellow"),
    ]
    cam = CameraSpec(eye=(2.2, -2.0, 1.6), target=(0.0, 0.0, 0.15), fov_y_deg=55.0, moves=[CameraMove("static", 0)])
    spec = make_spec(objs, cam, num_frames=2, size=96)
    meta, arrays, frames, _ = simulate_spec(spec)
    return spec, meta, arrays, frames


def test_object_centres_project_onto_their_masks(still_scene):
    spec, meta, a, _ = still_scene
    for k, obj in enumerate(spec.objects):
        uv, z = project_world(a["object_to_world"][k, 0, :3, 3], a["intrinsics"][0], a["cam_to_world"][0])
        col, row = int(uv[0]), int(uv[1])
        # the box centre of a convex-ish object is inside its silhouette (allow a 1-pixel ring)
        window = a["instance_mask"][0, max(row - 1, 0) : row + 2, max(col - 1, 0) : col + 2]
        assert (window == obj.id).any(), (obj.caption, uv, np.unique(window))
        assert a["object_visible"][k, 0]
    # the mask's own centroid projects back near the object centre, so rows are not flipped
    m = a["instance_mask"][0] == 1
    rows, cols = np.nonzero(m)
    uv, _ = project_world(a["object_to_world"][0, 0, :3, 3], a["intrinsics"][0], a["cam_to_world"][0])
    assert abs(cols.mean() + 0.5 - uv[0]) < 3 and abs(rows.mean() + 0.5 - uv[1]) < 3


def test_depth_of_object_pixels_lies_in_object_box(still_scene):
    spec, meta, a, _ = still_scene
    grid = pixel_grid(96, 96)
    for k, obj in enumerate(spec.objects):
        m = a["instance_mask"][0] == obj.id
        pts = unproject_to_world(grid[m], a["depth"][0][m], a["intrinsics"][0], a["cam_to_world"][0])
        local = transform_points(invert_rigid(a["object_to_world"][k, 0]), pts)
        half = a["object_extent"][k] / 2
        inside = (np.abs(local) <= half + 0.01).all(axis=1)
        assert inside.mean() > 0.99, (obj.caption, inside.mean())
        # and the box is tight: object pixels reach close to its faces on some axis
        assert (np.abs(local).max(axis=0) > 0.5 * half).all()
    # background pixels have depth (ground) or 0 (sky), never negative
    assert (a["depth"] >= 0).all() and (a["depth"][a["instance_mask"] == 0] > 0).any()


def test_renderer_returns_consistent_frame_without_scenario():
    with silence_stdout():
        c = BulletClient(connection_mode=p.DIRECT)
        c.loadURDF(pybullet_data.getDataPath() + "/plane.urdf")
        cube = c.loadURDF(pybullet_data.getDataPath() + "/cube.urdf", [0, 0, 1.0], useFixedBase=True)  # 1 m cube
    try:
        k = intrinsics_from_fov(64, 64, 60.0)
        c2w = look_at([0.0, -6.0, 1.0], [0.0, 0.0, 1.0])
        r = Renderer(c, RenderSettings(64, 64))
        f = r.render(k, c2w)
        assert f.rgb.shape == (64, 64, 3) and f.rgb.dtype == np.uint8
        # the cube's front face is the plane y = -0.5: 5.5 m in front of the camera
        centre = f.depth[28:36, 28:36]
        assert np.allclose(centre, 5.5, atol=0.01)
        assert (f.body[28:36, 28:36] == cube).all()
        assert r.frames_rendered == 1 and r.render_seconds > 0
    finally:
        c.disconnect()
