"""One simulated scene end to end (spec -> physics -> rendering -> tracks -> format v1), and
batches of scenes with resume, parallel workers and per-scene error reporting.

Object frame: PyBullet's base frame (getBasePositionAndOrientation) moved to the centre of the
object's visual box, same orientation, so `object_extent` is a box centred on the object's
origin. The shift is constant per object, so the pose stays rigid and rotations are unchanged.
"""

from __future__ import annotations

import shutil
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from qa4d._io import remove_stale_temporaries
from qa4d._exec import ExecutorConfig, make_executor
from qa4d.geometry.camera import intrinsics_from_fov
from qa4d.scene.format import META_FILE, SceneMeta, SceneObject, read_meta, write_scene
from qa4d.sources.sim.meshes import sample_surface
from qa4d.sources.sim.physics import World
from qa4d.sources.sim.render import Renderer, RenderSettings, depth_buffer_to_z
from qa4d.sources.sim.camera import scene_camera_pose
from qa4d.sources.sim.deal import KIND_DECK, scene_kind, scene_name, scene_rng
from qa4d.sources.sim.scenario import sample_scene
from qa4d.sources.sim.spec import SceneSpec
from qa4d.sources.sim.tracks import background_tracks, object_tracks, track_visibility

SOURCE = "sim"  # the engine selects per-source thresholds by this name (each family's thresholds.json, e.g. engine/families/fourdpqa/)


_clock = time.process_time  # timings are CPU seconds: comparable on a shared machine


@dataclass
class SimOptions:
    """Settings of a simulation run that are not drawn at random."""

    num_frames: int = 32
    size: int = 448
    fps: float = 8.0
    shadows: bool = False  # TinyRenderer shadow maps double the render time and show acne
    tracks_per_object: int = 256
    background_tracks: int = 1024
    min_visible_pixels: int = 0  # 0: max(2, 4e-5 * H * W)
    image_format: str = "png"
    kinds: tuple[str, ...] = KIND_DECK  # deck of scene kinds (deal.SCENE_KINDS)


@dataclass
class SceneTiming:
    """Where the CPU time of one scene went (seconds of this process, `time.process_time`).

    parts: spec (drawing the scene), loop (physics, poses and the per-frame conversions of the
    render loop, rendering excluded), tracks (visibility and object counts too), meta (scene.json
    summary), write (encoding and writing the files)."""

    total: float = 0.0
    render: float = 0.0  # inside getCameraImage only
    build: float = 0.0
    frames: int = 0
    parts: dict[str, float] = field(default_factory=dict)


def make_spec(seed: int, index: int, opts: SimOptions) -> SceneSpec:
    return sample_scene(
        seed,
        index,
        num_frames=opts.num_frames,
        width=opts.size,
        height=opts.size,
        fps=opts.fps,
        tracks_per_object=opts.tracks_per_object,
        background_tracks=opts.background_tracks,
        kinds=tuple(opts.kinds),
    )


def simulate_spec(spec: SceneSpec, shadows: bool = False, min_visible_pixels: int = 0):
    """Simulate and render a scene. Returns (meta, arrays, frames, timing); nothing is written.

    frames: (H, W, 3) uint8 views of the rendered RGBA buffers; arrays["instance_mask"] is uint8
    while object ids fit (write_scene stores it so; readers get int32 back), else int32."""
    t0 = _clock()
    timing = SceneTiming()
    t_len, h, w = spec.num_frames, spec.height, spec.width
    k_len = len(spec.objects)
    world = World(spec)
    try:
        timing.build = _clock() - t0
        renderer = Renderer(
            world.client, RenderSettings(width=w, height=h, light_direction=spec.light_direction, shadow=shadows)
        )
        # Object frame = base frame shifted to the visual box centre (see module docstring).
        boxes = world.boxes
        base_to_obj = np.tile(np.eye(4), (k_len, 1, 1))
        for i, (_, centre) in enumerate(boxes):
            base_to_obj[i, :3, 3] = centre
        # body id -> object id (0 for ground and props); the last entry, reached by body id -1
        # (nothing hit), is 0 too. uint8 while ids allow: the mask is stored as uint8 anyway.
        ids = [o.id for o in spec.objects]
        lut = np.zeros(max([world.ground_id, *world.prop_ids, *world.body_ids]) + 2,
                       dtype=np.uint8 if max(ids, default=0) <= 255 else np.int32)
        for obj, b in zip(spec.objects, world.body_ids):
            lut[b] = obj.id

        k_mat = intrinsics_from_fov(w, h, spec.camera.fov_y_deg)
        intrinsics = np.tile(k_mat, (t_len, 1, 1))
        cam_to_world = np.zeros((t_len, 4, 4))
        object_to_world = np.zeros((k_len, t_len, 4, 4))
        depth = np.zeros((t_len, h, w), dtype=np.float32)
        mask = np.zeros((t_len, h, w), dtype=lut.dtype)
        frames = []
        near, far = renderer.settings.near, renderer.settings.far
        for t in range(t_len):
            world.advance_to(t)
            object_to_world[:, t] = world.object_poses() @ base_to_obj
            cam_to_world[t] = scene_camera_pose(spec, t / max(t_len - 1, 1), object_to_world[:, t])
            rgba, depth_buf, body = renderer.render_buffers(k_mat, cam_to_world[t])
            frames.append(rgba[..., :3])  # a view: the PNG encoder copies it once, into its rows
            depth_buffer_to_z(depth_buf, near, far, out=depth[t])
            np.take(lut, body, out=mask[t], mode="wrap")  # body ids are -1 (nothing) or bodies of this world
        timing.render = renderer.render_seconds
        t1 = _clock()
        timing.parts["loop"] = t1 - t0 - timing.build - timing.render

        min_px = min_visible_pixels or max(2, int(round(4e-5 * h * w)))
        n_ids = max(ids, default=0) + 1
        counts = np.stack([np.bincount(m.ravel(), minlength=n_ids) for m in mask])[:, ids].T  # (K, T)
        object_visible = counts >= min_px

        rng = scene_rng(spec.seed, spec.index).spawn(1)[0]  # independent of the scenario draws
        pts = [sample_surface(tris, spec.tracks_per_object, rng) - c for tris, (_, c) in zip(world.triangles, boxes)]
        obj_tracks, owners = object_tracks(pts, object_to_world, ids)
        bg = background_tracks(depth, mask, intrinsics, cam_to_world, spec.background_tracks, rng)
        tracks_world = np.concatenate([obj_tracks, np.repeat(bg[:, None, :], t_len, axis=1)])
        tracks_object = np.concatenate([owners, np.zeros(len(bg), dtype=np.int32)])
        tracks_visible = track_visibility(tracks_world, tracks_object, intrinsics, cam_to_world, depth, mask)
        timing.parts["tracks"] = _clock() - t1
    finally:
        world.close()

    arrays = {
        "intrinsics": intrinsics,
        "cam_to_world": cam_to_world,
        "depth": depth,
        "instance_mask": mask,
        "object_to_world": object_to_world,
        "object_visible": object_visible,
        "object_extent": np.stack([e for e, _ in boxes]) if boxes else np.zeros((0, 3)),
        "tracks_world": tracks_world.astype(np.float32),
        "tracks_visible": tracks_visible,
        "tracks_object": tracks_object,
    }
    t2 = _clock()
    meta = SceneMeta(
        scene_id=spec.scene_id,
        source=SOURCE,
        fps=spec.fps,
        width=w,
        height=h,
        frames=[],
        objects=[
            SceneObject(id=o.id, category=o.category, caption=o.caption, is_agent=o.is_agent, forward_axis=o.forward_axis)
            for o in spec.objects
        ],
        world_up=(0.0, 0.0, 1.0),
        extra={"sim": {**spec.summary(), "shadows": bool(shadows)}},
    )
    timing.frames = t_len
    timing.parts["meta"] = _clock() - t2
    timing.total = _clock() - t0
    return meta, arrays, frames, timing


def simulate_scene(out_dir: str | Path, seed: int, index: int, opts: SimOptions) -> SceneTiming:
    """Simulate scene `index` of a run with `seed` and write it to out_dir/<scene name>."""
    t0 = _clock()
    spec = make_spec(seed, index, opts)
    t_spec = _clock() - t0
    meta, arrays, frames, timing = simulate_spec(spec, shadows=opts.shadows, min_visible_pixels=opts.min_visible_pixels)
    t1 = _clock()
    write_scene(Path(out_dir) / spec.scene_id, meta, arrays, frames, image_format=opts.image_format)
    timing.parts["write"] = _clock() - t1
    timing.parts["spec"] = t_spec
    timing.total = _clock() - t0
    return timing


def is_complete(scene_dir: Path, seed: int, index: int, opts: SimOptions) -> bool:
    """Whether scene_dir already holds this exact scene (written atomically, so present = whole)."""
    if not (scene_dir / META_FILE).exists():
        return False
    try:
        meta = read_meta(scene_dir)
    except ValueError:
        return False
    sim = meta.extra.get("sim", {})
    return (
        meta.num_frames == opts.num_frames
        and meta.width == opts.size
        and meta.height == opts.size
        and meta.fps == float(opts.fps)
        and sim.get("seed") == seed
        and sim.get("index") == index
        and sim.get("shadows") == opts.shadows
        and sim.get("kind", "mixed") == scene_kind(seed, index, tuple(opts.kinds))
    )


def _worker(args: tuple[str, int, int, SimOptions]) -> tuple[int, str | None, SceneTiming | None]:
    out_dir, seed, index, opts = args
    try:
        return index, None, simulate_scene(out_dir, seed, index, opts)
    except Exception as e:  # a bad scene is reported by the parent; the batch goes on
        where = traceback.extract_tb(e.__traceback__)[-1]
        return index, f"{type(e).__name__}: {e} (at {Path(where.filename).name}:{where.lineno})", None


@dataclass
class RunReport:
    written: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)
    timings: dict[int, SceneTiming] = field(default_factory=dict)


def run_simulation(
    out_dir: str | Path,
    num_scenes: int,
    seed: int,
    opts: SimOptions,
    workers: int = 1,
    start: int = 0,
    progress: bool | None = None,
    log: Callable[[str], Any] | None = None,
    worker_fn: Callable = _worker,
    executor: ExecutorConfig | None = None,
) -> RunReport:
    """Simulate scenes start..start+num_scenes-1 into out_dir, skipping complete ones.

    workers > 1 runs scenes in spawned processes, `executor` (qa4d._exec) elsewhere, e.g. on a
    Ray cluster; every scene's randomness comes from (seed, index) alone, so the files do not
    depend on `workers` or the executor.
    """
    from tqdm import tqdm

    log = log or (lambda msg: print(msg, file=sys.stderr))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = RunReport()
    todo = []
    for i in range(start, start + num_scenes):
        if is_complete(out / scene_name(seed, i), seed, i, opts):
            report.skipped.append(i)
        else:
            todo.append((str(out), seed, i, opts))
            # write_scene's temporary directories (".<name>.<random>") left by a killed run
            for stale in out.glob(f".{scene_name(seed, i)}.*"):
                if stale.is_dir():
                    shutil.rmtree(stale, ignore_errors=True)
    disable = None if progress is None else not progress  # None: hide when stderr is not a TTY
    bar = tqdm(total=len(todo), desc="simulate", unit="scene", disable=disable, file=sys.stderr)

    def done(index: int, err: str | None, timing: SceneTiming | None) -> None:
        if err is None:
            report.written.append(index)
            report.timings[index] = timing  # type: ignore[assignment]
        else:
            report.failed[index] = err
            bar.write(f"scene {scene_name(seed, index)} failed: {err}", file=sys.stderr)
        bar.update(1)

    cfg = executor or ExecutorConfig(workers=workers)
    if cfg.kind == "local" and len(todo) <= 1:
        cfg = ExecutorConfig(workers=1)
    try:
        if todo:
            # ray: tasks on a cluster that sees `out` at the same path; local: workers ignore
            # Ctrl-C and die with this process (qa4d._procs); spawn, as PyBullet clients must not be forked
            with make_executor(cfg) as ex:
                try:
                    for d in ex.run(worker_fn, todo):
                        if d.error is None:
                            done(*d.result)
                        else:  # the worker process itself died
                            done(todo[d.index][2], f"worker crashed: {type(d.error).__name__}: {d.error}", None)
                except BaseException:  # Ctrl-C or a fatal error: the executor stopped every job
                    if ex.parallel:
                        remove_stale_temporaries(out)  # the scene directories the killed workers were writing
                    raise
    finally:
        bar.close()
    report.written.sort()
    report.failed = dict(sorted(report.failed.items()))
    return report
