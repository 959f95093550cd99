"""PointOdyssey sequences (anno.npz, 16-bit depth, JPEG frames) -> scenes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from qa4d.cli import main
from qa4d.scene import load_scene
from tests.sources.convert_helpers import (
    generate_counts,
    intrinsics,
    look_camera,
    pose,
    ray_cast,
    rgb_from_ids,
    rot_z,
    validate_ok,
)

W, H, T, F = 80, 48, 10, 64.0
HALF = np.array([0.35, 0.35, 0.35])


def truth():
    cams = np.stack([look_camera([2.5 * np.sin(0.1 * t), -3.0 + 0.1 * t, 1.8], [0.0, 0.0, 0.3]) for t in range(T)])
    boxes = [pose(rot_z(6.0 * t), [0.15 * t - 0.6, 0.2, 0.36]) for t in range(T)]
    k = intrinsics(W, H, F)
    z, _, ids = zip(*[ray_cast(k, cams[t], H, W, [(boxes[t], HALF, 1)]) for t in range(T)])
    # tracks: 30 floor points and 12 points on the box's top face (carried by the box)
    g = np.stack(np.meshgrid(np.linspace(-1.5, 1.5, 6), np.linspace(-1.0, 1.5, 5)), -1).reshape(-1, 2)
    floor = np.repeat(np.c_[g, np.zeros(len(g))][:, None], T, 1)
    top_local = np.c_[np.stack(np.meshgrid(np.linspace(-0.3, 0.3, 4), np.linspace(-0.3, 0.3, 3)), -1).reshape(-1, 2),
                      np.full(12, 0.35)]
    top = np.stack([top_local @ b[:3, :3].T + b[:3, 3] for b in boxes], 1)
    world = np.concatenate([floor, top])                                     # (N, T, 3)
    return cams, np.stack(z), np.stack(ids), k, world


def write_seq(d, **override):
    cams, z, ids, k, world = truth()
    (d / "rgbs").mkdir(parents=True)
    (d / "depths").mkdir()
    for t in range(T):
        Image.fromarray(rgb_from_ids(ids[t], t)).save(d / f"rgbs/rgb_{t:05d}.jpg", quality=95)
        Image.fromarray(np.round(z[t] / 1000 * 65535).astype(np.uint16)).save(d / f"depths/depth_{t:05d}.png")
    valids = np.ones((T, world.shape[0]), bool)
    valids[:3, 0] = False                                                    # track 0 starts late
    trajs = world.transpose(1, 0, 2).astype(np.float32).copy()
    trajs[:3, 0] = np.inf
    valids[:, 1] = False                                                     # track 1 never valid: dropped
    visibs = np.zeros_like(valids)
    visibs[::2] = True
    cam = np.einsum("tij,tnj->tni", np.linalg.inv(cams)[:, :3, :3], trajs) + np.linalg.inv(cams)[:, None, :3, 3]
    uv = (cam[..., :2] / cam[..., 2:]) * F + [W / 2, H / 2]                  # pixels, like the dataset's trajs_2d
    anno = {"trajs_2d": uv.astype(np.float32), "trajs_3d": trajs, "valids": valids,
            "visibs": visibs, "intrinsics": np.tile(k, (T, 1, 1)).astype(np.float32),
            "extrinsics": np.linalg.inv(cams).astype(np.float32)}
    anno.update(override)
    np.savez(d / "anno.npz", **{key: v for key, v in anno.items() if v is not None})
    return valids, visibs


def test_sequence(tmp_path):
    valids, visibs = write_seq(tmp_path / "train" / "ani_seq")
    out = tmp_path / "out"
    assert main(["convert", "--from", "pointodyssey", str(tmp_path / "train"), "--out", str(out)]) == 0
    s = load_scene(out / "pointodyssey_ani_seq")
    validate_ok(s.root)
    cams, z, ids, k, world = truth()
    assert (s.meta.width, s.meta.height, s.meta.fps) == (W, H, 30.0)
    np.testing.assert_allclose(s.cam_to_world, cams, atol=2e-6)
    np.testing.assert_allclose(s.depth, z, atol=1000 / 65535 / 2 + 1e-5)
    kept = np.r_[0, 2:world.shape[0]]
    np.testing.assert_allclose(s.tracks_world[1:], world[kept[1:]], atol=1e-5)
    np.testing.assert_allclose(s.tracks_world[0, 3:], world[0, 3:], atol=1e-5)
    np.testing.assert_allclose(s.tracks_world[0, :3], np.repeat(world[0, 3:4], 3, 0), atol=1e-5)   # held
    np.testing.assert_array_equal(s.tracks_visible, (visibs & valids).T[kept])
    assert (s.tracks_object == -1).all() and s.objects == []
    assert s.meta.extra["convert"]["tracks_dropped_never_valid"] == 1
    assert s.meta.extra["convert"]["reprojection_px_median"] < 1e-3
    counts, skips = generate_counts(out, tmp_path / "ds")
    assert counts.get("visual_point_tracking", 0) > 0 and counts.get("true_motion_point_tracking", 0) > 0, (counts, skips)


@pytest.mark.parametrize("override, expect", [
    (dict(extrinsics=None), "anno.npz: key 'extrinsics': expected present"),
    (dict(visibs=np.full((T, 42), 2, np.uint8)), "anno.npz: key 'visibs': expected values in {0, 1} (v1.1+)"),
    (dict(intrinsics=np.zeros((T, 4, 4))), "anno.npz: key 'intrinsics': expected shape (T=10, 3, 3)"),
    (dict(extrinsics=truth()[0].astype(np.float32)), "anno.npz: key 'extrinsics': expected world-to-camera (OpenCV)"),
])
def test_malformed(tmp_path, capsys, override, expect):
    write_seq(tmp_path / "seq", **override)
    assert main(["convert", "--from", "pointodyssey", str(tmp_path / "seq"), "--out", str(tmp_path / "o")]) == 1
    line = [m for m in capsys.readouterr().err.splitlines() if "failed:" in m]
    assert len(line) == 1 and expect in line[0], line


def test_v1_layout_refused(tmp_path, capsys):
    (tmp_path / "old").mkdir()
    np.savez(tmp_path / "old" / "annot.npz", visibs=np.zeros((2, 2)))
    assert main(["convert", "--from", "pointodyssey", str(tmp_path / "old"), "--out", str(tmp_path / "o")]) == 1
    assert "annot.npz: key '(version)': expected the v1.1+ layout" in capsys.readouterr().err
