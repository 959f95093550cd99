import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa4d.engine import measure as M
from qa4d.engine.families.fourdpqa.labels import load_thresholds
from qa4d.geometry import look_at, project_world, rotation_about_axis

from ..geometry.strategies import finite, rigid_transforms
from .toy_scenes import H, UP, W, camera_path, make_scene, object_path, pose, static_camera, transform_scene, without

T = 8
FRAMES = list(range(T))


def still_object(p=(0.0, 0.0, 0.5)):
    return object_path([p] * T)


# ----------------------------------------------------------------------------- camera


def test_camera_moving_right_translation_in_first_camera_axes():
    cams = camera_path([(0.2 * t, -6, 1.5) for t in range(T)], [(0.2 * t, 0, 0.5) for t in range(T)])
    m = M.camera_motion(cams, FRAMES, UP)
    np.testing.assert_allclose(m["translation"], [1.4, 0.0, 0.0], atol=1e-9)
    assert m["distance"] == pytest.approx(1.4)
    assert m["pan"] == pytest.approx(0.0, abs=1e-9) and m["tilt"] == pytest.approx(0.0, abs=1e-9)
    assert m["roll"] == pytest.approx(0.0, abs=1e-9) and np.isnan(m["scale"])


def test_camera_forward_and_up_use_opencv_signs():
    # Camera looking along +y; moving forward (+y world) and up (+z world).
    cams = camera_path([(0, 0.3 * t, 0.1 * t) for t in range(T)], [(0, 10 + 0.3 * t, 0.1 * t) for t in range(T)])
    x, y, z = M.camera_motion(cams, FRAMES, UP)["translation"]
    assert x == pytest.approx(0, abs=1e-9) and z == pytest.approx(2.1) and y == pytest.approx(-0.7)


def test_camera_pan_left_is_positive_and_does_not_wrap():
    # Looking along +y and turning towards -x: counter-clockwise from above = pan left.
    step = 30.0  # 7 steps * 30 = 210 degrees: crosses +-180 of the heading
    cams = np.stack([pose(rotation_about_axis(UP, step * t) @ look_at((0, 0, 1), (0, 1, 1))[:3, :3], (0, 0, 1))
                     for t in range(T)])
    m = M.camera_motion(cams, FRAMES, UP)
    assert m["pan"] == pytest.approx(210.0)
    assert m["rotation_path"] == pytest.approx(210.0)
    np.testing.assert_allclose(m["translation"], 0, atol=1e-12)


def test_camera_tilt_up_and_roll_senses():
    base = look_at((0, 0, 1), (0, 1, 1))
    # Tilt up: target rises.
    cams = camera_path([(0, 0, 1)] * T, [(0, 1, 1 + np.tan(np.radians(3 * t))) for t in range(T)])
    assert M.camera_motion(cams, FRAMES, UP)["tilt"] == pytest.approx(21.0)
    # A right-handed turn about the camera's +z (forward) moves its x (right) towards y (down):
    # the right side drops, i.e. clockwise as seen by the camera -> negative roll.
    cams = np.stack([base @ pose(rotation_about_axis([0, 0, 1], 4.0 * t)) for t in range(T)])
    m = M.camera_motion(cams, FRAMES, UP)
    assert m["roll"] == pytest.approx(-28.0)
    assert m["pan"] == pytest.approx(0.0, abs=1e-9) and m["tilt"] == pytest.approx(0.0, abs=1e-9)


def test_scene_scale_prefers_depth_then_objects():
    cams = static_camera(T)
    scene = make_scene(cams, [still_object((0, 0, 1.5))])
    assert M.scene_scale(scene, FRAMES) == pytest.approx(6.0)
    depth = np.full((T, H, W), 3.0, np.float32)
    depth[:, :5] = 0  # unknown pixels are ignored
    scene = make_scene(cams, [still_object()], extra_arrays={"depth": depth})
    assert M.scene_scale(scene, FRAMES) == pytest.approx(3.0)
    assert M.camera_motion_scene(scene, FRAMES)["scale"] == pytest.approx(3.0)
    assert np.isnan(M.scene_scale(make_scene(cams), FRAMES))


def test_frames_must_increase():
    with pytest.raises(ValueError, match="increasing"):
        M.camera_motion(static_camera(T), [3, 1], UP)
    with pytest.raises(ValueError, match="outside"):
        M.camera_motion(static_camera(T), [0, T], UP)


# ----------------------------------------------------------------------------- objects


def test_object_centers_are_pose_translations_and_nan_when_unknown():
    poses = object_path([(t, 2.0 * t, 0.5) for t in range(T)], yaws=[10 * t for t in range(T)])
    poses[3] = np.nan
    scene = make_scene(static_camera(T), [poses])
    c = M.object_centers(scene, 0, [1, 3, 5])
    np.testing.assert_allclose(c[[0, 2]], [[1, 2, 0.5], [5, 10, 0.5]])
    assert np.isnan(c[1]).all()
    # Path skips the unknown frame: |(4, 8, 0)| + |(1, 2, 0)| + ... over frames 0..7 except 3.
    assert M.path_length(scene, 0, FRAMES) == pytest.approx(7 * np.sqrt(5))


def test_object_approaching_camera_is_radial_negative():
    # Camera at y=-6 looking along +y; object slides from y=0 to y=-2.8 (towards), and 0.5 m right.
    scene = make_scene(static_camera(T), [object_path([(0.5 * t / 7, -0.4 * t, 0.5) for t in range(T)])])
    d = M.object_direction(scene, 0, FRAMES)
    assert d["radial"] == pytest.approx(-2.8)
    assert d["lateral"] == pytest.approx(0.5)
    assert d["vertical"] == pytest.approx(0.0, abs=1e-12)
    assert d["distance0"] == pytest.approx(np.hypot(6.0, 1.0))
    assert d["distance_change"] < 0
    series = M.distance_series_camera(scene, 0, FRAMES)
    assert np.all(np.diff(series) < 0)


def test_object_direction_needs_two_known_frames():
    poses = still_object()
    poses[1:] = np.nan
    d = M.object_direction(make_scene(static_camera(T), [poses]), 0, FRAMES)
    assert all(np.isnan(v) for v in d.values())


def test_object_rotation_counterclockwise_accumulates_past_180():
    n = 41  # 40 steps of 10 degrees = 400 degrees
    scene = make_scene(static_camera(n), [object_path([(0, 0, 0.5)] * n, yaws=[10.0 * t for t in range(n)])])
    r = M.object_rotation(scene, 0, range(n))
    assert r["yaw"] == pytest.approx(400.0)
    assert r["tilt"] == pytest.approx(0.0, abs=1e-6)
    assert r["angle"] == pytest.approx(40.0)


def test_object_rotation_tilt():
    poses = np.stack([pose(rotation_about_axis([1, 0, 0], 5.0 * t)) for t in range(T)])
    r = M.object_rotation(make_scene(static_camera(T), [poses]), 0, FRAMES)
    assert r["tilt"] == pytest.approx(35.0)
    assert r["yaw"] == pytest.approx(0.0, abs=1e-9)


def test_agent_driving_forward_and_turning_left():
    # Starts at (R, 0) heading +y (its forward axis +x rotated by 90 degrees) and drives 60 degrees
    # counter-clockwise around the origin.
    R, a = 5.0, np.radians(np.linspace(0, 60, T))
    poses = object_path(np.stack([R * np.cos(a), R * np.sin(a), np.zeros(T)], 1), yaws=90 + np.degrees(a))
    m = M.agent_motion(make_scene(static_camera(T), [poses], extents=[[4.0, 2.0, 1.5]], agents=(0,)), 0, FRAMES)
    assert m["forward"] == pytest.approx(R * np.sin(np.radians(60)))
    assert m["left"] == pytest.approx(R * (1 - np.cos(np.radians(60))))
    assert m["yaw"] == pytest.approx(60.0)
    assert m["size"] == 4.0
    assert m["path"] == pytest.approx(R * np.radians(60), rel=1e-2)


def test_agent_forward_axis_is_respected():
    # Same straight motion along +x; an agent whose forward axis is -x is driving backwards.
    poses = object_path([(0.5 * t, 0, 0) for t in range(T)])
    scene = make_scene(static_camera(T), [poses, poses], forward_axes=[(1, 0, 0), (-1, 0, 0)], agents=(0, 1))
    assert M.agent_motion(scene, 0, FRAMES)["forward"] == pytest.approx(3.5)
    assert M.agent_motion(scene, 1, FRAMES)["forward"] == pytest.approx(-3.5)


def test_distances_depth_and_pairs():
    cams = static_camera(T, eye=(0, -6, 0.5), target=(0, 0, 0.5))
    a = object_path([(0, 0, 0.5)] * T)
    b = object_path([(3.0, 4.0 - 0.5 * t, 0.5) for t in range(T)])
    scene = make_scene(cams, [a, b])
    np.testing.assert_allclose(M.distance_series_objects(scene, 0, 1, FRAMES), np.hypot(3, 4 - 0.5 * np.arange(T)))
    assert M.object_object_distance(scene, 0, 1, 0) == pytest.approx(5.0)
    assert M.object_depth(scene, 1, 0) == pytest.approx(np.hypot(3, 10))
    assert M.object_depth(scene, 1, 0, kind="z") == pytest.approx(10.0)
    with pytest.raises(ValueError, match="kind"):
        M.object_depth(scene, 1, 0, kind="manhattan")


def test_visible_fraction_static_and_moving():
    scene = make_scene(static_camera(T), [still_object(), object_path([(0.1 * t, 0, 0.5) for t in range(T)])])
    scene.array("object_visible")[0, :2] = False
    assert M.visible_fraction(scene, 0, FRAMES) == pytest.approx(6 / 8)
    assert M.visible_fraction(scene, 1, FRAMES) == 1.0
    th = load_thresholds("default")
    assert M.is_static(scene, 0, FRAMES, th=th) and not M.is_moving(scene, 0, FRAMES, th=th)
    assert M.is_moving(scene, 1, FRAMES, th=th) and not M.is_static(scene, 1, FRAMES, th=th)
    # A slow turn in place is not static either.
    turning = make_scene(static_camera(T), [object_path([(0, 0, 0.5)] * T, yaws=[2.0 * t for t in range(T)])])
    assert not M.is_static(turning, 0, FRAMES, th=th)


def test_visible_fraction_falls_back_to_projection():
    scene = without(make_scene(static_camera(T), [object_path([(0, 0, 0.5)] * 4 + [(0, -10, 0.5)] * 4)]), "object_visible")
    assert M.visible_fraction(scene, 0, FRAMES) == pytest.approx(0.5)  # behind the camera at y=-10
    mask = np.zeros((T, H, W), np.int32)
    mask[:3, 10:20, 10:20] = 1  # 100 pixels in 3 frames
    mask[3, 10:13, 10:13] = 1  # 9 pixels: too few to count
    scene = without(make_scene(static_camera(T), [still_object()], extra_arrays={"instance_mask": mask}), "object_visible")
    assert M.visible_fraction(scene, 0, FRAMES) == pytest.approx(3 / 8)


# ----------------------------------------------------------------------------- image space


def _mask_scene(mask2d):
    mask = np.repeat(mask2d[None].astype(np.int32), T, axis=0)
    return make_scene(static_camera(T), [still_object()], extra_arrays={"instance_mask": mask})


def test_object_pixel_lies_inside_a_concave_mask():
    mask = np.zeros((H, W), np.int32)
    mask[10:40, 10:16] = 1  # a "C": its centroid falls in the empty middle
    mask[10:16, 10:50] = 1
    mask[34:40, 10:50] = 1
    scene = _mask_scene(mask)
    x, y = M.object_pixel(scene, 0, 2)
    assert mask[int(y), int(x)] == 1
    rows, cols = np.nonzero(mask)
    assert mask[int(rows.mean()), int(cols.mean())] == 0  # the centroid would have missed it


def test_object_pixel_and_circle_of_a_rectangle():
    mask = np.zeros((H, W), np.int32)
    mask[20:31, 30:41] = 1  # 11 x 11 pixels, centre pixel (35, 25)
    scene = _mask_scene(mask)
    assert M.object_pixel(scene, 0, 0) == (35.5, 25.5)
    cx, cy, r = M.object_circle(scene, 0, 0)
    assert (cx, cy) == (35.5, 25.5)
    corners = np.array([[30, 20], [41, 20], [30, 31], [41, 31]], float)
    assert np.all(np.hypot(corners[:, 0] - cx, corners[:, 1] - cy) < r)
    assert r < 15  # not absurdly large


def test_object_pixel_none_without_mask_or_when_tiny():
    scene = make_scene(static_camera(T), [still_object()])
    assert M.object_pixel(scene, 0, 0) is None and M.object_circle(scene, 0, 0) is None
    mask = np.zeros((H, W), np.int32)
    mask[5:8, 5:8] = 1
    assert M.object_pixel(_mask_scene(mask), 0, 0) is None


# ----------------------------------------------------------------------------- tracks


def test_true_motion_track_of_a_static_point_stays_put_under_camera_motion():
    cams = camera_path([(0.3 * t, -6, 1.5) for t in range(T)], [(0, 0, 0.5)] * T)
    pts = np.repeat(np.array([[0.5, 0.0, 0.7], [-0.5, 1.0, 0.2]])[:, None], T, axis=1)
    scene = make_scene(cams, tracks_world=pts)
    uv_t, vis_t = M.tracks_2d(scene, FRAMES, ref_frame=2, kind="true_motion")
    uv_v, vis_v = M.tracks_2d(scene, FRAMES, ref_frame=2, kind="visual")
    np.testing.assert_allclose(uv_t, uv_t[:, 2:3].repeat(T, axis=1), atol=1e-6)
    np.testing.assert_allclose(uv_v[:, 2], uv_t[:, 2], atol=1e-9)  # they agree at the query frame
    assert np.abs(uv_v[:, 0] - uv_v[:, -1]).max() > 1.0  # the visual track moves on screen
    assert vis_t.all() and vis_v.all()


def test_true_motion_visibility_needs_real_visibility_and_the_reference_image():
    cams = static_camera(T)
    pts = np.repeat(np.array([[0.0, 0.0, 0.5]])[:, None], T, axis=1).copy()
    pts[0, 6:] = [0.0, -10.0, 0.5]  # behind the camera at the end
    vis = np.ones((1, T), bool)
    vis[0, 1] = False  # occluded in the real video at frame 1
    scene = make_scene(cams, tracks_world=pts, tracks_visible=vis)
    _, v = M.tracks_2d(scene, FRAMES, ref_frame=0, kind="true_motion")
    assert v.tolist() == [[True, False, True, True, True, True, False, False]]
    with pytest.raises(ValueError, match="kind"):
        M.tracks_2d(scene, FRAMES, 0, kind="optical_flow")


@settings(max_examples=30, deadline=None)
@given(rigid_transforms(scale=3.0), st.integers(0, T - 1), st.data())
def test_static_camera_true_motion_equals_visual(cam_offset, ref, data):
    cams = np.repeat((static_camera(1)[0] @ cam_offset)[None], T, axis=0)
    start = np.array(data.draw(st.lists(st.floats(-2, 2, **finite), min_size=3, max_size=3)))
    vel = np.array(data.draw(st.lists(st.floats(-0.3, 0.3, **finite), min_size=3, max_size=3)))
    pts = (start + vel * np.arange(T)[:, None])[None]
    scene = make_scene(cams, tracks_world=pts)
    uv_t, vis_t = M.tracks_2d(scene, FRAMES, ref, "true_motion")
    uv_v, vis_v = M.tracks_2d(scene, FRAMES, ref, "visual")
    np.testing.assert_allclose(uv_t, uv_v, atol=1e-6, equal_nan=True)
    assert (vis_t == vis_v).all()


@settings(max_examples=30, deadline=None)
@given(rigid_transforms(scale=20.0), st.data())
def test_measurements_invariant_under_a_rigid_transform_of_the_world(g, data):
    steps = data.draw(st.lists(st.floats(-0.5, 0.5, **finite), min_size=6, max_size=6))
    eyes = [(steps[0] * t, -6 + steps[1] * t, 1.5 + steps[2] * t) for t in range(T)]
    targets = [(steps[3] * t, steps[4] * t, 0.5) for t in range(T)]
    obj = object_path([(steps[5] * t, -steps[0] * t, 0.5) for t in range(T)], yaws=[steps[1] * 40 * t for t in range(T)])
    scene = make_scene(camera_path(eyes, targets), [obj, still_object((1, 1, 0.3))], agents=(0,))
    moved = transform_scene(scene, g)
    a, b = M.camera_motion_scene(scene, FRAMES), M.camera_motion_scene(moved, FRAMES)
    for key in ("translation", "distance", "pan", "tilt", "roll", "scale"):
        np.testing.assert_allclose(a[key], b[key], atol=1e-6)
    for f in (M.object_direction, M.object_rotation, M.agent_motion):
        da, db = f(scene, 0, FRAMES), f(moved, 0, FRAMES)
        for key in da:
            np.testing.assert_allclose(da[key], db[key], atol=1e-6, err_msg=f"{f.__name__}: {key}")
    np.testing.assert_allclose(M.distance_series_objects(scene, 0, 1, FRAMES),
                               M.distance_series_objects(moved, 0, 1, FRAMES), atol=1e-9)
    assert M.object_depth(scene, 1, 3) == pytest.approx(M.object_depth(moved, 1, 3))


def test_projection_helper_agrees_with_depth_semantics():
    # Sanity link to geometry: the object's z-depth equals the projected camera z.
    scene = make_scene(static_camera(T), [still_object((0.4, 1.0, 0.2))])
    _, z = project_world(M.object_centers(scene, 0, [0])[0], scene.intrinsics[0], scene.cam_to_world[0])
    assert M.object_depth(scene, 0, 0, kind="z") == pytest.approx(float(z))


# The deepest-pixel choice runs on the mask's bounding box; these references run on the whole
# frame: scipy's transform of the padded image, and a brute force over integer squared distances.


def _whole_frame_deepest(mask):
    from scipy.ndimage import distance_transform_edt

    dist = distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    return np.unravel_index(int(np.argmax(dist)), dist.shape)


def _brute_force_deepest(mask):
    outside = np.argwhere(~np.pad(mask, 1)) - 1  # background pixels and the ring past the border
    inside = np.argwhere(mask)  # raster order
    d2 = ((inside[:, None, :] - outside[None, :, :]) ** 2).sum(-1).min(axis=1)
    return tuple(inside[int(np.argmax(d2))])  # first maximum in raster order


def _masks(rng, h=24, w=30):
    """Random blobs, masks touching the border, thin shapes, symmetric shapes with ties."""
    from scipy.ndimage import gaussian_filter

    for _ in range(60):  # blobs, often split in pieces, anywhere (including on the border)
        m = gaussian_filter(rng.random((h, w)), sigma=rng.uniform(1.0, 3.0)) > rng.uniform(0.5, 0.56)
        if m.any():
            yield m
    for _ in range(30):  # rectangles flush with one or two image borders
        m = np.zeros((h, w), bool)
        rh, rw = int(rng.integers(1, h)), int(rng.integers(1, w))
        r0 = int(rng.choice([0, h - rh, rng.integers(0, h - rh + 1)]))
        c0 = int(rng.choice([0, w - rw]))
        m[r0 : r0 + rh, c0 : c0 + rw] = True
        yield m
    for k in range(1, 4):  # thin lines: every pixel ties at distance 1
        m = np.zeros((h, w), bool)
        m[5 : 5 + k, 2:27] = True
        yield m
        v = np.zeros((h, w), bool)
        v[2 : h - 2, 5 : 5 + k] = True
        yield v
        yield np.eye(h, w, k=k - 1, dtype=bool)  # a diagonal, one pixel thick
    sq = np.zeros((h, w), bool)
    sq[4:14, 6:16] = True  # even square: four centre pixels tie
    yield sq
    yield sq | np.roll(sq, 12, axis=1)  # two equal squares: the tie spans two components
    yield np.ones((h, w), bool)  # the whole frame: only the image border is outside
    one = np.zeros((h, w), bool)
    one[h - 1, w - 1] = True
    yield one


def _box_without_ring(mask):
    """The bounding-box shortcut done wrong (no ring): what lies past the box edge is ignored."""
    from scipy.ndimage import distance_transform_edt

    rows, cols = np.nonzero(mask)
    box = mask[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    i, j = np.unravel_index(int(np.argmax(distance_transform_edt(box))), box.shape)
    return int(i + rows.min()), int(j + cols.min())


def test_deepest_pixel_on_the_bounding_box_equals_the_whole_frame_choice():
    rng = np.random.default_rng(12)
    n = border = wrong_without_ring = 0
    for mask in _masks(rng):
        got = M.deepest_pixel(mask)
        assert got == tuple(int(v) for v in _whole_frame_deepest(mask))
        assert got == tuple(int(v) for v in _brute_force_deepest(mask))
        assert mask[got]
        n += 1
        border += bool(mask[0].any() or mask[-1].any() or mask[:, 0].any() or mask[:, -1].any())
        wrong_without_ring += _box_without_ring(mask) != got
    assert n > 100 and border > 30
    assert wrong_without_ring > 0  # the masks can tell a careless crop from the right one


def test_object_pixel_is_the_whole_frame_choice_in_a_scene():
    masks = [m for m in _masks(np.random.default_rng(3), H, W) if m.sum() >= 20]
    for start in range(0, len(masks) - T + 1, T):  # T masks per scene
        chunk = masks[start : start + T]
        scene = make_scene(static_camera(T), [still_object()],
                           extra_arrays={"instance_mask": np.stack(chunk).astype(np.int32)})
        for t, m in enumerate(chunk):
            i, j = _whole_frame_deepest(m)
            assert M.object_pixel(scene, 0, t) == (j + 0.5, i + 0.5)


def test_object_seen_is_whether_object_pixel_finds_a_pixel():
    masks = [m for m in _masks(np.random.default_rng(7), H, W)][: 3 * T]
    for start in range(0, len(masks), T):
        chunk = masks[start : start + T]
        scene = make_scene(static_camera(T), [still_object()],
                           extra_arrays={"instance_mask": np.stack(chunk).astype(np.int32)})
        for t, m in enumerate(chunk):
            n = int(m.sum())
            for need in (1, 20, n, n + 1):
                assert M.object_seen(scene, 0, t, need) is (n >= need) is (M.object_pixel(scene, 0, t, need) is not None)
    no_mask = make_scene(static_camera(T), [still_object()])
    assert not M.object_seen(no_mask, 0, 0, 0) and M.object_pixel(no_mask, 0, 0, 0) is None


def test_object_pixel_is_remembered_per_scene_only():
    """object_pixel keeps its choices per scene object: asking again gives the same pixel, and a
    second scene with another mask at the same object and frame gets its own pixel."""
    a = np.zeros((H, W), np.int32)
    a[20:31, 30:41] = 1  # centre pixel (35, 25)
    b = np.zeros((H, W), np.int32)
    b[2:13, 4:15] = 1  # centre pixel (9, 7)
    sa, sb = _mask_scene(a), _mask_scene(b)
    assert M.object_pixel(sa, 0, 0) == M.object_pixel(sa, 0, 0) == (35.5, 25.5)
    assert M.object_pixel(sb, 0, 0) == (9.5, 7.5)
    assert M.object_pixel(sa, 0, 0, min_pixels=122) is None  # 121 pixels: the threshold is part of the key
    assert M.object_pixel(sa, 0, 0) == (35.5, 25.5)
