"""Monocular 4D reconstructions (MegaSaM-style .npz) -> scenes, against a ray-cast video."""

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

W, H, T, F = 72, 48, 10, 60.0
HALF = np.array([0.3, 0.3, 0.3])


def video():
    """A hand-held camera sliding sideways and panning over a floor with a rolling box."""
    cams = np.stack([look_camera([-0.12 * t, -3.0, 1.6], [0.6 - 0.35 * t, 0.0, 0.3]) for t in range(T)])
    boxes = [pose(rot_z(5.0 * t), [0.2 * t - 0.5, 0.3, 0.31]) for t in range(T)]
    k = intrinsics(W, H, F)
    z, _, ids = zip(*[ray_cast(k, cams[t], H, W, [(boxes[t], HALF, 1)]) for t in range(T)])
    return cams, np.stack(z), np.stack(ids), k


def write_recon(path, masks: str = "npz", **override):
    cams, z, ids, k = video()
    d = {"images": np.stack([rgb_from_ids(ids[t], t) for t in range(T)]), "depths": z.astype(np.float32),
         "intrinsic": k.astype(np.float32), "cam_c2w": cams.astype(np.float32), "fps": np.array(15.0)}
    if masks == "npz":
        d["instance_masks"] = ids.astype(np.uint8)
    elif masks == "dir":
        mdir = path.with_name(path.stem + "_masks")
        mdir.mkdir(parents=True)
        for t in range(T):
            Image.fromarray(ids[t].astype(np.uint8), "L").save(mdir / f"{t:05d}.png")
    d.update(override)
    d = {key: v for key, v in d.items() if v is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **d)


@pytest.mark.parametrize("masks", ["npz", "dir"])
def test_reconstruction_with_masks(tmp_path, masks):
    write_recon(tmp_path / "src" / "myvideo.npz", masks=masks)
    out = tmp_path / "out"
    assert main(["convert", "--from", "recon", str(tmp_path / "src"), "--out", str(out)]) == 0
    s = load_scene(out / "recon_myvideo")
    validate_ok(s.root)
    cams, z, ids, k = video()
    assert (s.meta.width, s.meta.height, s.meta.fps) == (W, H, 15.0)
    np.testing.assert_allclose(s.cam_to_world, cams, atol=1e-6)
    np.testing.assert_allclose(s.intrinsics, np.tile(k, (T, 1, 1)))
    np.testing.assert_allclose(s.depth, z, rtol=1e-6)
    np.testing.assert_array_equal(s.instance_mask, ids)
    assert [o.id for o in s.objects] == [1] and not s.has("object_to_world")
    # background tracks: fixed points on the floor, visible where the camera sees the floor there
    x = np.asarray(s.tracks_world, float)
    assert (s.tracks_object == 0).all() and len(x) > 50
    np.testing.assert_allclose(x[..., 2], 0.0, atol=1e-5)
    from qa4d.geometry import project_world
    uv, _ = project_world(x, s.intrinsics[None], s.cam_to_world[None])
    n, t = np.nonzero(s.tracks_visible)
    assert (ids[t, uv[n, t, 1].astype(int), uv[n, t, 0].astype(int)] == 0).all()
    assert 0.3 < s.tracks_visible.mean() < 1.0          # some points leave the view or go behind the box
    counts, skips = generate_counts(out, tmp_path / "ds")
    assert counts.get("camera_movement", 0) > 0 and counts.get("visual_point_tracking", 0) > 0, (counts, skips)


def test_without_masks_needs_fps(tmp_path, capsys):
    write_recon(tmp_path / "v.npz", masks="none", fps=None)
    assert main(["convert", "--from", "recon", str(tmp_path / "v.npz"), "--out", str(tmp_path / "o")]) == 1
    assert "v.npz: key 'fps': expected present or --fps given" in capsys.readouterr().err
    assert main(["convert", "--from", "recon", str(tmp_path / "v.npz"), "--out", str(tmp_path / "o"), "--fps", "30",
                 "--stride", "2"]) == 0
    s = load_scene(tmp_path / "o" / "recon_v")
    validate_ok(s.root)
    assert s.meta.fps == 15.0 and s.num_frames == 5 and not s.has("tracks_world") and s.objects == []


@pytest.mark.parametrize("override, key", [
    (dict(cam_c2w=None), "'cam_c2w': expected present"),
    (dict(depths=np.zeros((T, H, W + 1), np.float32)), "'depths': expected shape (T=10, H=48, W=72)"),
    (dict(intrinsic=None), "'intrinsic': expected present"),
    (dict(cam_c2w=np.tile(2 * np.eye(4), (T, 1, 1))), "'cam_c2w': expected rigid"),
])
def test_malformed(tmp_path, capsys, override, key):
    write_recon(tmp_path / "bad.npz", **override)
    assert main(["convert", "--from", "recon", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "o")]) == 1
    line = [m for m in capsys.readouterr().err.splitlines() if "failed:" in m]
    assert len(line) == 1 and f"bad.npz: key {key}" in line[0], line
