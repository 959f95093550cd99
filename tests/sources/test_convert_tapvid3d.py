"""TAPVid-3D clips -> scenes: cameras and world tracks against a closed-form clip."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from qa4d.cli import main
from qa4d.scene import load_scene
from tests.sources.convert_helpers import generate_counts, intrinsics, level_camera, tree_bytes, validate_ok

W, H, T = 48, 32, 12          # non-square on purpose
F = 30.0


def clip(t_len: int = T, static: bool = False):
    """World points (static wall + one point moving along x) seen by a camera that slides and pans."""
    c2w = np.stack([level_camera([0.3 * t, 0.0, 1.0], 3.0 * t) if not static else level_camera([0, 0, 1.0], 0.0)
                    for t in range(t_len)])
    ys, zs = np.meshgrid(np.linspace(-1.5, 2.5, 6), np.linspace(0.3, 1.7, 4))
    wall = np.stack([np.full(ys.size, 6.0), ys.ravel(), zs.ravel()], -1)            # (24, 3)
    world = np.repeat(wall[:, None], t_len, axis=1)
    mover = np.stack([[4.0, -0.5 + 0.1 * t, 1.0] for t in range(t_len)])[None]      # (1, T, 3)
    world = np.concatenate([world, mover], 0)                                       # (N, T, 3)
    w2c = np.linalg.inv(c2w)
    cam = np.einsum("tij,ntj->tni", w2c[:, :3, :3], world) + w2c[:, None, :3, 3]    # (T, N, 3)
    k = intrinsics(W, H, F)
    u = F * cam[..., 0] / cam[..., 2] + W / 2
    v = F * cam[..., 1] / cam[..., 2] + H / 2
    vis = (cam[..., 2] > 0) & (u >= 0) & (u < W) & (v >= 0) & (v < H)
    return c2w, world, cam, vis, k


def queries(cam, vis, k):
    """(x, y, t) of each track at its first visible frame (frame 0 when never visible)."""
    t = np.argmax(vis, axis=0)
    p = cam[t, np.arange(cam.shape[1])]
    return np.stack([k[0, 0] * p[:, 0] / p[:, 2] + k[0, 2], k[1, 1] * p[:, 1] / p[:, 2] + k[1, 2], t], -1)


def jpeg(t: int) -> bytes:
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 0] = 10 * t
    img[:, : W // 2, 1] = 200
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def write_clip(path, static=False, drop=(), **override):
    c2w, world, cam, vis, k = clip(static=static)
    d = {
        "images_jpeg_bytes": np.array([jpeg(t) for t in range(T)]),
        "queries_xyt": queries(cam, vis, k),
        "tracks_XYZ": cam,
        "visibility": vis,
        "fx_fy_cx_cy": np.array([k[0, 0], k[1, 1], k[0, 2], k[1, 2]]),
    }
    if not static:
        d["extrinsics_w2c"] = np.linalg.inv(c2w)
    d.update(override)
    for key in drop:
        d.pop(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)
    return c2w, world, vis


def test_cameras_and_world_tracks(tmp_path):
    c2w, world, vis = write_clip(tmp_path / "src" / "drivetrack" / "clip_a.npz")
    out = tmp_path / "out"
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "src"), "--out", str(out), "--stride", "2"]) == 0
    scene_dir = out / "tapvid3d_drivetrack_clip_a"
    validate_ok(scene_dir)
    s = load_scene(scene_dir)
    keep = np.arange(0, T, 2)
    assert (s.meta.width, s.meta.height, s.num_frames) == (W, H, len(keep))
    assert s.meta.fps == pytest.approx(10.0 / 2)                     # drivetrack is 10 Hz, stride 2
    np.testing.assert_allclose(s.cam_to_world, c2w[keep], atol=1e-9)
    np.testing.assert_allclose(s.tracks_world, world[:, keep], atol=1e-5)
    np.testing.assert_array_equal(s.tracks_visible, vis[keep].T)
    assert (s.tracks_object == -1).all()                             # owner unknown, not background
    np.testing.assert_allclose(s.world_up, [0, 0, 1], atol=1e-9)     # level camera: estimated up is exact
    assert s.intrinsics[0, 0, 0] == F and s.intrinsics[0, 0, 2] == W / 2
    conv = s.meta.extra["convert"]
    assert conv["source_frames"] == keep.tolist() and conv["settings"]["stride"] == 2 and conv["licence"]
    assert not s.has("depth") and s.objects == []
    assert conv["query_reprojection_px_median"] < 1e-6


def test_static_camera_without_extrinsics_and_generation(tmp_path):
    write_clip(tmp_path / "pstudio" / "p1.npz", static=True)
    _, world, vis = write_clip(tmp_path / "adt" / "a1.npz")
    out = tmp_path / "out"
    assert main(["convert", "--from", "tapvid3d", str(tmp_path), "--out", str(out)]) == 0
    s = load_scene(out / "tapvid3d_pstudio_p1")
    np.testing.assert_allclose(s.cam_to_world, np.tile(np.eye(4), (T, 1, 1)))
    # world = the static camera's frame: world points are the camera-frame tracks of frame 0
    _, _, cam, _, _ = clip(static=True)
    np.testing.assert_allclose(s.tracks_world, cam.transpose(1, 0, 2), atol=1e-5)
    np.testing.assert_allclose(s.world_up, [0, -1, 0], atol=1e-9)
    assert s.meta.fps == 30.0
    counts, skips = generate_counts(out, tmp_path / "ds")
    assert counts.get("visual_point_tracking", 0) > 0 and counts.get("camera_movement", 0) > 0, (counts, skips)
    assert any("scene lacks object_to_world" in r for r in skips["depth"])
    assert main(["audit", str(tmp_path / "ds")]) == 0           # records with owner -1 pass the schema          # the reason for each skip is reported


def test_deterministic(tmp_path):
    write_clip(tmp_path / "adt" / "c.npz")
    for name in ("o1", "o2"):
        assert main(["convert", "--from", "tapvid3d", str(tmp_path / "adt"), "--out", str(tmp_path / name)]) == 0
    assert tree_bytes(tmp_path / "o1") == tree_bytes(tmp_path / "o2")


@pytest.mark.parametrize("case, key", [
    (dict(drop=("tracks_XYZ",)), "tracks_XYZ"),
    (dict(visibility=np.ones((T, 3), bool)), "visibility"),
    (dict(fx_fy_cx_cy=np.ones(3)), "fx_fy_cx_cy"),
    (dict(extrinsics_w2c=np.ones((T, 4, 4))), "extrinsics_w2c"),
])
def test_malformed_clip_names_file_and_key(tmp_path, capsys, case, key):
    path = tmp_path / "adt" / "bad.npz"
    write_clip(path, **case)
    assert main(["convert", "--from", "tapvid3d", str(path), "--out", str(tmp_path / "out")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if "failed:" in line]
    assert len(err) == 1 and str(path) in err[0] and repr(key) in err[0] and "expected" in err[0]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_fps_needs_flag(tmp_path, capsys):
    write_clip(tmp_path / "clips" / "x.npz")
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "clips"), "--out", str(tmp_path / "o")]) == 1
    assert "'fps'" in capsys.readouterr().err
    assert main(["convert", "--from", "tapvid3d", str(tmp_path / "clips"), "--out", str(tmp_path / "o"),
                 "--fps", "24"]) == 0
    assert json.loads((tmp_path / "o" / "tapvid3d_x" / "scene.json").read_text())["fps"] == 24.0
