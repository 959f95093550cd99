"""Virtual KITTI 2 (text files, 16-bit depth in cm, indexed instance PNGs) -> scenes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qa4d.cli import main
from qa4d.scene import load_scene
from tests.sources.convert_helpers import generate_counts, intrinsics, pose, ray_cast, rgb_from_ids, track_checks, validate_ok

W, H, T, F = 96, 40, 8, 60.0
DIMS = {0: (1.6, 1.4, 3.8), 1: (1.8, 1.5, 4.2)}         # trackID -> width, height, length (m)


def ry(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def truth():
    """y-down world, ground y = 0. The camera drives along +z; car 0 drives ahead of it and turns,
    car 1 is parked on the right."""
    cams = np.stack([pose(ry(np.radians(2.0 * t)), [0.0, -1.5, 0.5 * t]) for t in range(T)])
    rows, boxes = {0: [], 1: []}, {0: [], 1: []}
    heading, loc = np.radians(-90.0), np.array([-0.5, 0.0, 9.0])   # ry = -90 deg: x axis along +z
    for t in range(T):
        for tid in (0, 1):
            if tid == 0:
                a, l_ = heading + np.radians(4.0 * t), loc.copy()
            else:
                a, l_ = np.radians(-80.0), np.array([3.5, 0.0, 11.0])
            w_, h_, _ = DIMS[tid]
            rows[tid].append((l_, a))
            boxes[tid].append(pose(ry(a), l_ - np.array([0.0, h_ / 2, 0.0])))
        step = ry(heading + np.radians(4.0 * t))[:, 0] * 0.6
        loc = loc + step
    return cams, rows, boxes


def render():
    cams, _, boxes = truth()
    k = intrinsics(W, H, F)
    out = [ray_cast(k, cams[t], H, W, [(boxes[i][t], np.array(DIMS[i])[[2, 1, 0]] / 2, i + 1) for i in (0, 1)],
                    ground=(np.array([0.0, 1.0, 0.0]), 0.0)) for t in range(T)]
    z, _, ids = zip(*out)
    return np.stack(z), np.stack(ids)


def write_vkitti(d, header_typo=False, drop_file=None, no_pose=()):
    cams, rows, _ = truth()
    z, ids = render()
    for sub in ("rgb", "depth", "instanceSegmentation"):
        (d / "frames" / sub / "Camera_0").mkdir(parents=True)
    ext = ["frame cameraID r1,1 r1,2 r1,3 t1 r2,1 r2,2 r2,3 t2 r3,1 r3,2 r3,3 t3 0 0 0 1"]
    intr = ["frame cameraID K[0,0] K[1,1] K[0,2] K[1,2]"]
    pose_rows = ["frame cameraID trackID alpha width height length world_space_X world_space_Y world_space_Z "
                 "rotation_world_space_y rotation_world_space_x rotation_world_space_z camera_space_X camera_space_Y "
                 "camera_space_Z rotation_camera_space_y rotation_camera_space_x rotation_camera_space_z"]
    if header_typo:
        pose_rows[0] = pose_rows[0].replace("world_space_Y", "world_space_y")
    bbox = ["frame cameraID trackID left right top bottom number_pixels truncation_ratio occupancy_ratio isMoving"]
    for t in range(T):
        for cam in (0, 1):                                   # Camera_1: the right camera of the stereo pair
            c2w = cams[t] @ pose(np.eye(3), [0.532 * cam, 0, 0])
            w2c = np.linalg.inv(c2w)
            ext.append(f"{t} {cam} " + " ".join(f"{v:.12g}" for v in w2c.ravel()))
            intr.append(f"{t} {cam} {F} {F} {W / 2} {H / 2}")
            for tid in (0, 1):
                loc, a = rows[tid][t]
                w_, h_, l_ = DIMS[tid]
                cl = w2c[:3, :3] @ loc + w2c[:3, 3]
                if (tid, t) in no_pose:
                    continue
                pose_rows.append(f"{t} {cam} {tid} 0 {w_} {h_} {l_} {loc[0]:.12g} {loc[1]:.12g} {loc[2]:.12g} "
                                 f"{a:.12g} 0 0 {cl[0]:.12g} {cl[1]:.12g} {cl[2]:.12g} 0 0 0")
                n = int((ids[t] == tid + 1).sum()) if cam == 0 else 0
                if n:
                    bbox.append(f"{t} {cam} {tid} 0 1 0 1 {n} 0 1 {'True' if tid == 0 else 'False'}")
        Image.fromarray(rgb_from_ids(ids[t], t)).save(d / f"frames/rgb/Camera_0/rgb_{t:05d}.jpg", quality=95)
        Image.fromarray(np.round(z[t] * 100).astype(np.uint16)).save(d / f"frames/depth/Camera_0/depth_{t:05d}.png")
        m = Image.fromarray(ids[t].astype(np.uint8), "P")
        m.putpalette([0, 0, 0, 200, 30, 30, 30, 200, 30] + [0] * 759)
        m.save(d / f"frames/instanceSegmentation/Camera_0/instancegt_{t:05d}.png")
    files = {"extrinsic.txt": ext, "intrinsic.txt": intr, "pose.txt": pose_rows, "bbox.txt": bbox,
             "info.txt": ["trackID label model color", "0 Car Sedan4Door Black", "1 Van Van Red"]}
    for name, lines in files.items():
        if name != drop_file:
            (d / name).write_text("\n".join(lines) + "\n")


def test_scene_geometry_and_generation(tmp_path):
    write_vkitti(tmp_path / "vkitti" / "Scene01" / "clone")
    out = tmp_path / "out"
    assert main(["convert", "--from", "vkitti2", str(tmp_path / "vkitti"), "--out", str(out)]) == 0
    s = load_scene(out / "vkitti2_Scene01_clone")
    validate_ok(s.root)
    cams, _, boxes = truth()
    z, ids = render()
    assert (s.meta.width, s.meta.height, s.meta.fps) == (W, H, 10.0)
    np.testing.assert_allclose(s.cam_to_world, cams, atol=1e-9)
    np.testing.assert_allclose(s.depth, z, atol=0.005 + 1e-6)          # centimetre PNG
    np.testing.assert_array_equal(s.instance_mask, ids)
    for tid in (0, 1):
        i = s.object_index(tid + 1)
        np.testing.assert_allclose(s.object_to_world[i], np.stack(boxes[tid]), atol=1e-9)
        w_, h_, l_ = DIMS[tid]
        np.testing.assert_allclose(s.object_extent[i], [l_, h_, w_])
    np.testing.assert_array_equal(s.object_visible, np.stack([(ids == 1).any((1, 2)), (ids == 2).any((1, 2))]))
    assert [o.caption for o in s.objects] == ["black car", "red van"] and all(o.is_agent for o in s.objects)
    np.testing.assert_allclose(s.world_up, [0, -1, 0], atol=1e-9)
    halves = {tid + 1: np.array(DIMS[tid])[[2, 1, 0]] / 2 for tid in (0, 1)}
    track_checks(s, {tid + 1: boxes[tid] for tid in (0, 1) if (ids == tid + 1).any()}, halves, 0.0, up_axis=1, tol=0.01)
    assert s.meta.extra["convert"]["pose_camera_vs_world_max_m"] < 1e-9
    counts, skips = generate_counts(out, tmp_path / "ds")
    assert counts.get("camera_movement", 0) > 0 and counts.get("visual_point_tracking", 0) > 0, (counts, skips)


def test_frames_without_a_pose(tmp_path):
    """The van has no pose row in frames 0 and 1: unknown pose there (NaN), not visible, and its
    tracks are held and hidden in those frames but exact afterwards."""
    write_vkitti(tmp_path / "Scene06" / "rain", no_pose=((1, 0), (1, 1)))
    assert main(["convert", "--from", "vkitti2", str(tmp_path / "Scene06"), "--out", str(tmp_path / "o")]) == 0
    s = load_scene(tmp_path / "o" / "vkitti2_Scene06_rain")
    validate_ok(s.root)
    _, _, boxes = truth()
    _, ids = render()
    i = s.object_index(2)
    assert np.isnan(s.object_to_world[i, :2]).all() and np.isfinite(s.object_to_world[i, 2:]).all()
    assert not s.object_visible[i, :2].any() and (ids[:2] == 2).any()       # in the mask, but no pose
    van = s.tracks_object == 2
    assert van.sum() > 5 and not s.tracks_visible[van, :2].any() and s.tracks_visible[van, 2:].any()
    local = np.stack([(s.tracks_world[van, t] - b[:3, 3]) @ b[:3, :3] for t, b in enumerate(boxes[1])], 1)
    np.testing.assert_allclose(local[:, 2:], local[:, 2:3].repeat(T - 2, 1), atol=2e-3)


@pytest.mark.parametrize("kind, expect", [
    ("typo", "pose.txt: key '(header)': expected frame cameraID trackID"),
    ("missing", "bbox.txt: key '(file)': expected an existing file, got missing"),
])
def test_malformed(tmp_path, capsys, kind, expect):
    d = tmp_path / "Scene02" / "fog"
    write_vkitti(d, header_typo=kind == "typo", drop_file="bbox.txt" if kind == "missing" else None)
    assert main(["convert", "--from", "vkitti2", str(d), "--out", str(tmp_path / "o")]) == 1
    line = [m for m in capsys.readouterr().err.splitlines() if "failed:" in m]
    assert len(line) == 1 and expect in line[0], line
