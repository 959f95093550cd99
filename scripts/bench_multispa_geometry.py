#!/usr/bin/env python
"""Timing of the MultiSPA geometry core (qa4d.geometry) on a realistic scene size.

Builds a synthetic room (a 6 x 5 x 3 m box) with points sampled on its walls, floor and ceiling
(default 50,000), F cameras inside it (default 32) with 640 x 480 z-depth maps rendered exactly
by ray-box intersection, then times, on one core:
  - visibility (Eq. 3) of all points in all frames;
  - the overlap matrix (Eq. 4) of all frame pairs: one matrix product (the library), against a
    pair-by-pair loop and a bit-packed popcount variant (both here only for comparison);
  - overlap-balanced pair sampling (Listing 1) on the frame pairs and on 1M synthetic pairs;
  - the object-size coverage search (App. F) for an object of M points (default 2,000) over all
    frames: per-image extents + all covering pairs, the BFS up to 2 and up to 5 images, against
    a Listing-2-style search that unions boolean point masks for every pair;
  - rigid-body segmentation (Listing 3) of P tracks over T frames.

    .venv/bin/python scripts/bench_multispa_geometry.py [--points 50000 --frames 32 --repeat 3]
"""

from __future__ import annotations

import argparse
import datetime
import time

import numpy as np
from machine import machine_line  # scripts/machine.py

from qa4d.geometry import (
    covering_pairs,
    image_extents,
    intrinsics_from_fov,
    look_at,
    minimal_covering_sets,
    pairwise_overlap,
    rigid_body_segmentation,
    sample_balanced_pairs,
    visible_points,
)
from qa4d.geometry.camera import pixel_grid
from qa4d.geometry.visibility import overlap_ratio

ROOM_LO = np.array([0.0, 0.0, 0.0])
ROOM_HI = np.array([6.0, 5.0, 3.0])
W, H = 640, 480


def timed(fn, repeat: int):
    """Best CPU time of `repeat` runs (seconds) and the last result."""
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.process_time()
        out = fn()
        best = min(best, time.process_time() - t0)
    return best, out


def room_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """n points uniformly on the 6 faces of the room, by area. Returns (n, 3)."""
    size = ROOM_HI - ROOM_LO
    areas = np.array([size[1] * size[2]] * 2 + [size[0] * size[2]] * 2 + [size[0] * size[1]] * 2)
    face = rng.choice(6, size=n, p=areas / areas.sum())
    pts = ROOM_LO + rng.random((n, 3)) * size
    axis = face // 2
    pts[np.arange(n), axis] = np.where(face % 2 == 0, ROOM_LO[axis], ROOM_HI[axis])
    return pts


def render_depth(k: np.ndarray, c2w: np.ndarray) -> np.ndarray:
    """Exact z-depth of the room's inside seen from a camera inside it. Returns (H, W)."""
    uv = pixel_grid(H, W).reshape(-1, 2)
    rays = np.stack([(uv[:, 0] - k[0, 2]) / k[0, 0], (uv[:, 1] - k[1, 2]) / k[1, 1], np.ones(len(uv))], -1)
    d = rays @ c2w[:3, :3].T  # world directions with camera z = 1
    c = c2w[:3, 3]
    with np.errstate(divide="ignore"):
        t = np.where(d > 0, (ROOM_HI - c) / d, (ROOM_LO - c) / d)
    t = np.where(d == 0, np.inf, t)
    return t.min(axis=1).reshape(H, W)


def cameras(f: int, rng: np.random.Generator) -> np.ndarray:
    """f cameras walking around the room, looking roughly horizontally. Returns (f, 4, 4)."""
    out = []
    for i in range(f):
        a = 2 * np.pi * i / f
        eye = np.array([3.0 + 1.5 * np.cos(a), 2.5 + 1.2 * np.sin(a), 1.5]) + rng.normal(0, 0.05, 3)
        yaw = a + np.pi / 2 + rng.normal(0, 0.6)
        target = eye + [np.cos(yaw), np.sin(yaw), rng.normal(0, 0.2)]
        out.append(look_at(eye, target))
    return np.stack(out)


def overlap_loop(vis: np.ndarray) -> np.ndarray:
    t = vis.shape[1]
    m = np.zeros((t, t))
    for i in range(t):
        for j in range(t):
            m[i, j] = overlap_ratio(vis[:, i], vis[:, j])
    return m


def overlap_bitpacked(vis: np.ndarray) -> np.ndarray:
    packed = np.packbits(vis.T, axis=1)  # (T, N / 8)
    count = np.bitwise_count(packed).sum(axis=1, dtype=np.int64)
    inter = np.stack([np.bitwise_count(packed & row).sum(axis=1, dtype=np.int64) for row in packed])
    union = count[:, None] + count[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def coverage_masks(coords: np.ndarray, vis: np.ndarray, target: float, tol: float = 0.1) -> list:
    """Listing-2 style: union the boolean masks of every pair, then max - min of the union."""
    k = vis.shape[1]
    single = [np.ptp(coords[vis[:, i]]) if vis[:, i].any() else 0.0 for i in range(k)]
    ok = [abs(c - target) <= tol * target for c in single]
    out = []
    for i in range(k):
        for j in range(i + 1, k):
            if ok[i] or ok[j]:
                continue
            m = vis[:, i] | vis[:, j]
            if m.any() and abs(np.ptp(coords[m]) - target) <= tol * target:
                out.append((i, j))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=50_000)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--object-points", type=int, default=2_000)
    ap.add_argument("--tracks", type=int, default=1_000)
    ap.add_argument("--track-frames", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)

    print(f"# bench_multispa_geometry  {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# {machine_line()}")
    k = intrinsics_from_fov(W, H, 58.0)
    pts = room_points(args.points, rng)
    cams = cameras(args.frames, rng)
    depth = np.stack([render_depth(k, c) for c in cams])
    f, n = args.frames, args.points
    print(f"scene: {n} points, {f} frames, depth {W}x{H}")

    t_vis, vis = timed(lambda: visible_points(pts, k, cams, depth, W, H, tolerance=0.01), args.repeat)
    print(f"visibility (Eq. 3), all points x frames     {t_vis * 1e3:9.1f} ms  "
          f"({t_vis / f * 1e3:.2f} ms/frame; {vis.mean():.1%} of point-frames visible)")
    t_mat, m = timed(lambda: pairwise_overlap(vis), args.repeat)
    t_loop, m_loop = timed(lambda: overlap_loop(vis), 1)
    line = (f"overlap matrix (Eq. 4), {f * (f - 1) // 2} pairs: matmul {t_mat * 1e3:.1f} ms, "
            f"pair loop {t_loop * 1e3:.1f} ms")
    if hasattr(np, "bitwise_count"):
        t_bits, m_bits = timed(lambda: overlap_bitpacked(vis), args.repeat)
        assert np.array_equal(m_bits, m)
        line += f", bit-packed popcount {t_bits * 1e3:.1f} ms"
    assert np.array_equal(m_loop, m)
    print(line)
    iu = np.triu_indices(f, 1)
    pct = 100.0 * m[iu]
    print(f"  pairs with overlap in [6, 35] %: {np.count_nonzero((pct >= 6) & (pct <= 35))} of {len(pct)}")
    t_s, s = timed(lambda: sample_balanced_pairs(pct, 300, np.random.default_rng(0)), args.repeat)
    big = np.random.default_rng(1).exponential(8.0, 1_000_000)
    t_b, sb = timed(lambda: sample_balanced_pairs(big, 300_000, np.random.default_rng(0)), args.repeat)
    print(f"balanced pair sampling (Listing 1): {len(pct)} pairs {t_s * 1e3:.2f} ms; "
          f"1M pairs -> {len(sb.indices)} in {t_b * 1e3:.1f} ms")

    # Object size: a 3 m long object (a sofa) seen from 1-1.6 m by F cameras aimed at random
    # spots on it, so each sees part of its length (x).
    obj = rng.uniform([1.5, 2.05, 0.0], [4.5, 2.95, 0.8], (args.object_points, 3))
    ocams = []
    for _ in range(f):
        side = rng.choice([-1.0, 1.0])
        eye = np.array([rng.uniform(1.0, 5.0), 2.5 + side * rng.uniform(1.0, 1.6), 1.2])
        ocams.append(look_at(eye, [rng.uniform(1.5, 4.5), 2.5, 0.4]))
    ocams = np.stack(ocams)
    odepth = np.stack([render_depth(k, c) for c in ocams])  # the room behind; nothing occludes
    ovis = visible_points(obj, k, ocams, odepth, W, H)
    coords, target = obj[:, 0], float(np.ptp(obj[:, 0]))
    t_ext, ext = timed(lambda: image_extents(coords, ovis), args.repeat)
    t_pairs, cp = timed(lambda: covering_pairs(*ext, target), args.repeat)
    t_bfs2, b2 = timed(lambda: minimal_covering_sets(*ext, target, max_size=2), args.repeat)
    t_bfs5, b5 = timed(lambda: minimal_covering_sets(*ext, target, max_size=5, level_cap=5000,
                                                     rng=np.random.default_rng(0)), 1)
    t_mask, cm = timed(lambda: coverage_masks(coords, ovis, target), 1)
    assert [tuple(p) for p in cp] == cm == b2.get(2, [])
    print(f"coverage search (App. F), object of {args.object_points} points, {f} images "
          f"({np.count_nonzero(ovis.any(axis=0))} see it): extents {t_ext * 1e3:.2f} ms + covering pairs "
          f"{t_pairs * 1e3:.2f} ms ({len(cp)} pairs); BFS<=2 {t_bfs2 * 1e3:.2f} ms; BFS<=5 (cap 5000) "
          f"{t_bfs5 * 1e3:.1f} ms ({sum(len(v) for v in b5.values())} minimal sets); "
          f"mask unions per pair (Listing 2 style) {t_mask * 1e3:.1f} ms")

    # Rigid segmentation: 4 bodies moving differently.
    p, t_len = args.tracks, args.track_frames
    body = rng.integers(0, 4, p)
    base = rng.uniform(-0.5, 0.5, (p, 3)) + body[:, None] * [2.0, 0, 0]
    tracks = np.repeat(base[:, None], t_len, axis=1)
    tracks += (body[:, None, None] * 0.05) * np.arange(t_len)[None, :, None] * [1.0, 0.5, 0.0]
    t_seg, labels = timed(lambda: rigid_body_segmentation(tracks, min_points=6), 1)
    print(f"rigid segmentation (Listing 3), {p} tracks x {t_len} frames: {t_seg:.2f} s "
          f"({labels.max() + 1} groups)")


if __name__ == "__main__":
    main()
