"""MultiSPA object-size tasks on hand-made scenes: a box x in [-2, 2], y in [0, 1], z in [0, 1]
(length 4 m along x, width 1 m along y, height 1 m), seen face-on by cameras looking along +y,
its front face (y = 0) rendered exactly into the depth maps. Scene `long`: cameras at x = -1.3,
0 and 1.3, 2 m in front: only the outer two together cover the length (the middle one sees
2.31 m, with either outer one 3.16 m, under 90% of 4 m), each sees the whole height (so height is
never asked) and no image sees any depth of the box (width never covered). Scene `tall`: cameras
0.5 m in front at heights 0.2, 0.5 and 0.8 m: only the low and the high one together cover the
height. Expected: length 4000 mm from frames {0, 2} of `long`, height 1000 mm from frames {0, 2}
of `tall`, nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from qa4d.dataset import read_samples
from qa4d.geometry import intrinsics_from_fov
from qa4d.scene.format import SceneMeta, SceneObject, write_scene

S = 64
CAMS = {"long": [(-1.3, -2.0, 0.5), (0.0, -2.0, 0.5), (1.3, -2.0, 0.5)],
        "tall": [(0.0, -0.5, 0.2), (0.0, -0.5, 0.5), (0.0, -0.5, 0.8)],
        # two cameras on each side: a camera 2 m away sees 2 tan(30 deg) = 2.31 m of the face, so
        # x = -1.6 or -1.3 sees [-2, -0.45] or [-2, -0.15], the middle one [-1.15, 1.15]: only a left
        # and a right one together reach 90 % of 4 m, giving exactly four covering pairs
        "long5": [(-1.6, -2.0, 0.5), (-1.3, -2.0, 0.5), (0.0, -2.0, 0.5), (1.3, -2.0, 0.5), (1.6, -2.0, 0.5)]}


def render(cam, K):
    """Depth and mask of the box's front face (y = 0) for a camera at `cam` looking along +y."""
    v, u = np.mgrid[0:S, 0:S] + 0.5
    z = 0.0 - cam[1]                                        # camera Z = world +y
    wx = cam[0] + z * (u - K[0, 2]) / K[0, 0]
    wz = cam[2] - z * (v - K[1, 2]) / K[1, 1]               # camera Y (down) = world -z
    hit = (np.abs(wx) <= 2.0) & (wz >= 0.0) & (wz <= 1.0)
    return np.where(hit, z, 0.0).astype(np.float32), hit.astype(np.int32)


def build(root, sid):
    K = intrinsics_from_fov(S, S, 60.0)
    T = len(CAMS[sid])
    c2w = np.tile(np.eye(4), (T, 1, 1))
    c2w[:, :3, :3] = np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]], float)   # columns: X=+x, Y=-z, Z=+y
    depth, mask = np.zeros((T, S, S), np.float32), np.zeros((T, S, S), np.int32)
    for t, cam in enumerate(CAMS[sid]):
        c2w[t, :3, 3] = cam
        depth[t], mask[t] = render(cam, K)
    o2w = np.tile(np.eye(4), (1, T, 1, 1))
    o2w[0, :, :3, 3] = (0.0, 0.5, 0.5)
    img = np.where(mask[..., None] > 0, np.uint8(200), np.uint8(90)).repeat(3, -1)
    meta = SceneMeta(scene_id=sid, source="sim", fps=5.0, width=S, height=S, frames=[],
                     objects=[SceneObject(id=1, category="box", caption="the long box")])
    arrays = {"intrinsics": np.tile(K, (T, 1, 1)), "cam_to_world": c2w, "depth": depth, "instance_mask": mask,
              "object_to_world": o2w, "object_extent": np.array([[4.0, 1.0, 1.0]]),
              "object_visible": mask.reshape(T, -1).any(1)[None]}
    write_scene(root / sid, meta, arrays, frames=list(img), image_format="png")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("msp_size")
    for sid in ("long", "tall"):
        build(root / "scenes", sid)
    ds = root / "ds"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "object_height", "object_width", "object_length",
                        "--bench-fraction", "0.5", "--seed", "2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ds, [rec for s in ("train", "bench") if (ds / s / "samples.jsonl").exists()
                for rec in read_samples(ds / s / "samples.jsonl")]


def test_only_the_covering_pair_is_asked_with_the_exact_size(dataset):
    _, recs = dataset
    got = sorted((r["scene_id"], r["task"], r["meta"]["value"], tuple(sorted(r["frame_indices"]))) for r in recs)
    assert got == [("long", "object_length", 4000, (0, 2)), ("tall", "object_height", 1000, (0, 2))]
    for r in recs:
        assert r["answer"] == f"`{r['meta']['value']}`" and r["meta"]["object_id"] == 1
        assert "the long box" in r["question"] and r["meta"]["media_kind"] == "images"


def test_size_audit_passes_and_catches_a_wrong_pair(dataset):
    ds, recs = dataset
    cli = [sys.executable, "-m", "qa4d.cli", "audit", str(ds)]
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    split = "train" if (ds / "train" / "samples.jsonl").exists() else "bench"
    p = ds / split / "samples.jsonl"
    rec = json.loads(p.read_text().splitlines()[0])
    rec["frame_indices"] = [0, 1]            # this pair does not cover
    p.write_text(json.dumps(rec) + "\n")
    r = subprocess.run(cli, capture_output=True, text=True)
    assert r.returncode != 0
    bad = json.loads((ds / "audit.json").read_text())["disagreements"]
    assert [d["id"] for d in bad] == [rec["id"]] and "predicate" in " ".join(bad[0]["problems"])


def generate_long5(root, pairs_per_object):
    build(root / "scenes", "long5")
    (root / "th.json").write_text(json.dumps({"multispa": {"size_pairs_per_object": pairs_per_object}}))
    ds = root / f"ds{pairs_per_object}"
    r = subprocess.run([sys.executable, "-m", "qa4d.cli", "generate", "--scenes", str(root / "scenes"), "--out", str(ds),
                        "--families", "multispa", "--tasks", "object_length", "--bench-fraction", "0",
                        "--thresholds", str(root / "th.json"), "--seed", "0"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return ds, read_samples(ds / "train" / "samples.jsonl")


def test_several_covering_pairs_of_one_object_are_asked(tmp_path):
    """size_pairs_per_object (default 4) distinct covering pairs per object and dimension: in
    `long5` exactly the four left-right pairs cover, each giving the exact 4000 mm; with 2 per
    object, two of those four."""
    ds, recs = generate_long5(tmp_path, 4)
    assert sorted(tuple(sorted(r["frame_indices"])) for r in recs) == [(0, 3), (0, 4), (1, 3), (1, 4)]
    assert {r["meta"]["value"] for r in recs} == {4000} and len({r["id"] for r in recs}) == 4
    assert subprocess.run([sys.executable, "-m", "qa4d.cli", "audit", str(ds)], capture_output=True).returncode == 0
    _, two = generate_long5(tmp_path, 2)
    got = [tuple(sorted(r["frame_indices"])) for r in two]
    assert len(set(got)) == 2 and set(got) <= {(0, 3), (0, 4), (1, 3), (1, 4)}
