"""Kubric MOVi (worker directory and TFDS .npz) -> scenes, against a ray-cast closed-form scene."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from qa4d.cli import main
from qa4d.scene import load_scene
from qa4d.sources.converters.kubric import flatten_example
from tests.sources.convert_helpers import (
    box_corners,
    generate_counts,
    intrinsics,
    look_camera,
    pose,
    quat_wxyz,
    ray_cast,
    rgb_from_ids,
    rot_z,
    track_checks,
    tree_bytes,
    validate_ok,
)

W, H, T = 64, 40, 8
FOCAL, SENSOR = 35.0, 32.0
F = FOCAL / SENSOR * W
GL = np.diag([1.0, -1.0, -1.0, 1.0])
HALF = {1: np.array([0.4, 0.3, 0.25]), 2: np.array([0.3, 0.3, 0.3])}
OFFSET = {1: np.array([0.1, 0.0, -0.25]), 2: np.array([0.0, 0.0, -0.3])}   # box centre in the origin's frame


def truth():
    """Camera circling and descending; box 1 slides along x while turning; box 2 stands still."""
    cams, boxes, origins = [], {1: [], 2: []}, {1: [], 2: []}
    for t in range(T):
        eye = [3.0 * np.cos(0.05 * t) - 0.5, -3.0 * np.sin(0.05 * t) - 2.0, 2.2 - 0.05 * t]
        cams.append(look_camera(eye, [0.2, 0.2, 0.2]))
        for oid, (rot, org) in {1: (rot_z(4.0 * t), [-0.6 + 0.12 * t, 0.0, 0.3 + 0.25 + 0.01]),
                                2: (rot_z(30.0), [0.8, 1.0, 0.3 + 0.3 + 0.01])}.items():
            o = pose(rot, org)
            origins[oid].append(o)
            boxes[oid].append(o @ pose(np.eye(3), OFFSET[oid]))
    return np.stack(cams), boxes, origins


def render():
    cams, boxes, _ = truth()
    k = intrinsics(W, H, F)
    z, ray, ids = zip(*[ray_cast(k, cams[t], H, W, [(boxes[i][t], HALF[i], i) for i in (1, 2)]) for t in range(T)])
    return np.stack(z), np.stack(ray), np.stack(ids)


def instances_lists():
    _, boxes, origins = truth()
    _, _, ids = render()
    out = []
    for oid, name in ((1, "Blue_Shoe"), (2, "Red_Mug")):
        out.append({
            "positions": [o[:3, 3].tolist() for o in origins[oid]],
            "quaternions": [quat_wxyz(o[:3, :3]).tolist() for o in origins[oid]],
            "bboxes_3d": [box_corners(b, HALF[oid]).tolist() for b in boxes[oid]],
            "visibility": [int((ids[t] == oid).sum()) for t in range(T)],
            "category": "Shoe" if oid == 1 else "Bottles and Cans and Cups", "asset_id": name,
        })
    return out


def camera_lists():
    cams, _, _ = truth()
    gl = cams @ GL
    return {"focal_length": FOCAL, "sensor_width": SENSOR, "field_of_view": 2 * np.arctan(SENSOR / 2 / FOCAL),
            "positions": [c[:3, 3].tolist() for c in gl], "quaternions": [quat_wxyz(c[:3, :3]).tolist() for c in gl]}


def write_worker_dir(d, drop_camera=False, drop_bbox=False):
    d.mkdir(parents=True)
    _, ray, ids = render()
    inst = instances_lists()
    if drop_bbox:
        del inst[0]["bboxes_3d"]
    md = {"metadata": {"num_frames": T, "resolution": [W, H], "frame_rate": 12, "num_instances": 2},
          "camera": camera_lists(), "instances": inst}
    if drop_camera:
        del md["camera"]
    (d / "metadata.json").write_text(json.dumps(md))
    for t in range(T):
        rgba = np.concatenate([rgb_from_ids(ids[t], t), np.full((H, W, 1), 255, np.uint8)], -1)
        Image.fromarray(rgba, "RGBA").save(d / f"rgba_{t:05d}.png")
        Image.fromarray(ray[t].astype(np.float32), "F").save(d / f"depth_{t:05d}.tiff")
        seg = Image.fromarray(ids[t].astype(np.uint8), "P")
        seg.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 9))
        seg.save(d / f"segmentation_{t:05d}.png")


def tfds_example():
    _, ray, ids = render()
    lo, hi = float(ray.min()), float(ray.max())
    inst = instances_lists()
    cam = camera_lists()
    return {
        "video": np.stack([rgb_from_ids(ids[t], t) for t in range(T)]),
        "segmentations": ids[..., None].astype(np.uint8),
        "depth": np.round((ray - lo) / (hi - lo) * 65535).astype(np.uint16)[..., None],
        "metadata": {"depth_range": np.array([lo, hi], np.float32), "num_frames": T, "height": H, "width": W,
                     "video_name": "7"},
        "camera": {k: np.asarray(v, np.float32) for k, v in cam.items()},
        "instances": {
            "positions": np.array([o["positions"] for o in inst], np.float32),
            "quaternions": np.array([o["quaternions"] for o in inst], np.float32),
            "bboxes_3d": np.array([o["bboxes_3d"] for o in inst], np.float32),
            "visibility": np.array([o["visibility"] for o in inst], np.uint16),
            "category": np.array([12, 3]),
            "asset_id": ["Blue_Shoe", "Red_Mug"],
        },
    }


def check_geometry(s, depth_tol):
    cams, boxes, _ = truth()
    z, _, ids = render()
    np.testing.assert_allclose(s.cam_to_world, cams, atol=2e-5)
    np.testing.assert_allclose(s.intrinsics[0], intrinsics(W, H, F), atol=1e-9)
    np.testing.assert_allclose(s.depth, z, atol=depth_tol)
    np.testing.assert_array_equal(s.instance_mask, ids)
    for oid in (1, 2):
        i = s.object_index(oid)
        np.testing.assert_allclose(s.object_to_world[i], np.stack(boxes[oid]), atol=2e-5)
        np.testing.assert_allclose(s.object_extent[i], 2 * HALF[oid], atol=1e-5)
    np.testing.assert_array_equal(s.object_visible, np.stack([(ids == 1).any((1, 2)), (ids == 2).any((1, 2))]))
    track_checks(s, boxes, HALF, ground_z=0.0)
    assert s.world_up.tolist() == [0, 0, 1]


def test_worker_directory(tmp_path):
    write_worker_dir(tmp_path / "movi" / "00042")
    out = tmp_path / "out"
    assert main(["convert", "--from", "kubric", str(tmp_path / "movi"), "--out", str(out)]) == 0
    s = load_scene(out / "kubric_00042")
    validate_ok(s.root)
    assert (s.meta.width, s.meta.height, s.meta.fps) == (W, H, 12.0)
    check_geometry(s, depth_tol=1e-4)
    assert [o.caption for o in s.objects] == ["blue shoe", "red mug"] and s.objects[0].category == "shoe"
    counts, skips = generate_counts(out, tmp_path / "ds")
    assert counts.get("true_motion_point_tracking", 0) > 0, (counts, skips)
    assert counts.get("depth", 0) + counts.get("object_object_distance", 0) > 0, (counts, skips)


def test_tfds_npz_and_determinism(tmp_path):
    np.savez(tmp_path / "ex7.npz", **flatten_example(tfds_example()))
    for name in ("o1", "o2"):
        assert main(["convert", "--from", "kubric", str(tmp_path / "ex7.npz"), "--out", str(tmp_path / name)]) == 0
    assert tree_bytes(tmp_path / "o1") == tree_bytes(tmp_path / "o2")
    s = load_scene(tmp_path / "o1" / "kubric_ex7")
    validate_ok(s.root)
    _, ray, _ = render()
    check_geometry(s, depth_tol=(ray.max() - ray.min()) / 65535 + 1e-5)   # the uint16 quantisation
    assert s.objects[1].category == "object"          # TFDS stores class indices, not names


def test_stride_and_max_frames(tmp_path):
    write_worker_dir(tmp_path / "00001")
    assert main(["convert", "--from", "kubric", str(tmp_path / "00001"), "--out", str(tmp_path / "o"),
                 "--stride", "3", "--max-frames", "2"]) == 0
    s = load_scene(tmp_path / "o" / "kubric_00001")
    cams, _, _ = truth()
    assert s.num_frames == 2 and s.meta.fps == 4.0
    np.testing.assert_allclose(s.cam_to_world, cams[[0, 3]], atol=2e-5)
    assert s.meta.extra["convert"]["source_frames"] == [0, 3]


@pytest.mark.parametrize("what, key", [("camera", "'camera'"), ("bbox", "'instances[0].bboxes_3d'")])
def test_malformed_worker_dir(tmp_path, capsys, what, key):
    d = tmp_path / "00003"
    write_worker_dir(d, drop_camera=what == "camera", drop_bbox=what == "bbox")
    assert main(["convert", "--from", "kubric", str(d), "--out", str(tmp_path / "o")]) == 1
    line = [m for m in capsys.readouterr().err.splitlines() if "failed:" in m]
    assert len(line) == 1 and str(d / "metadata.json") in line[0] and key in line[0] and "expected" in line[0]


def test_malformed_tfds(tmp_path, capsys):
    ex = flatten_example(tfds_example())
    del ex["camera/quaternions"]
    np.savez(tmp_path / "a.npz", **ex)
    ex = flatten_example(tfds_example())
    ex["depth"] = ex["depth"].astype(np.float32)
    np.savez(tmp_path / "b.npz", **ex)
    assert main(["convert", "--from", "kubric", str(tmp_path), "--out", str(tmp_path / "o")]) == 1
    lines = [m for m in capsys.readouterr().err.splitlines() if "failed:" in m]
    assert len(lines) == 2
    assert "a.npz: key 'camera/quaternions': expected present" in lines[0]
    assert "b.npz: key 'depth': expected" in lines[1] and "float32" in lines[1]
