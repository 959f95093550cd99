"""The "mixed" scene kind, the original random scene: 2-8 objects with any motion (scripted,
agents, physics), a camera standing in the world on one of the stratified trajectories, and a
trucking camera related to a sideways-moving object (`camera_relation`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.camera_paths import CAM_MOVE_REL, CAMERA_SLOTS, _sample_camera
from qa4d.sources.sim.captions import assign_captions
from qa4d.sources.sim.deal import _pick, _stratum, scene_name, scene_rng
from qa4d.sources.sim.layout import _path_clear, _place, _sample_props, draw_asset, object_spec
from qa4d.sources.sim.programs import (
    AGENT_MOTIONS,
    SPIN_NONE,
    TRANSLATION_DECK,
    TRANSLATIONS,
    _agent_motion,
    _draw_motion,
    _first_view,
    _reads_as,
    _spin,
    _translation,
)
from qa4d.sources.sim.spec import CameraSpec, Motion, ObjectSpec, SceneSpec

CONVOY_SHARE = 0.6  # share of translating objects that follow the previous one's path


def sample_mixed_scene(
    seed: int, index: int, num_frames: int, width: int, height: int, fps: float, num_objects: tuple[int, int],
    tracks_per_object: int, background_tracks: int, cat: dict[str, Any],
) -> SceneSpec:
    """A "mixed" scene (the same whatever the deck of kinds). Same arguments, same spec."""
    rng = scene_rng(seed, index)
    k = int(rng.integers(num_objects[0], num_objects[1] + 1))
    slot = CAMERA_SLOTS[_stratum(seed, index, "camera", len(CAMERA_SLOTS))]

    # Camera first: motion labels (left/right/towards/away) are relative to the first camera.
    azim = rng.uniform(-np.pi, np.pi)
    dist = rng.uniform(2.4, 3.4)
    height_m = rng.uniform(1.2, 2.2)
    if slot[0] == "pedestal" and slot[1] < 0:
        height_m += 0.6  # room to come down
    eye = np.array([dist * np.cos(azim), dist * np.sin(azim), height_m])
    target = np.array([rng.normal(0, 0.1), rng.normal(0, 0.1), rng.uniform(0.1, 0.3)])
    fov = rng.uniform(50.0, 62.0)

    names = [n for n in cat["objects"] if not cat["objects"][n].get("large")]  # big boxes: kind "large"
    agent_names = [n for n in names if cat["objects"][n].get("agent")]
    other_names = [n for n in names if not cat["objects"][n].get("agent")]
    # Most scenes have agents (the agent_motion task needs them), at most three and at most half.
    n_agents = min(int(rng.choice(4, p=[0.1, 0.4, 0.35, 0.15])), k // 2) if agent_names else 0
    objects: list[ObjectSpec] = []
    placed: list[tuple[np.ndarray, float]] = []
    for i in range(k):
        pool = agent_names if i < n_agents else other_names
        drawn = draw_asset(rng, cat, pool)
        radius = drawn[5]
        xy = _place(rng, placed, radius, disc=1.2)
        placed.append((xy, radius))
        objects.append(object_spec(i + 1, drawn, xy, float(rng.uniform(-180, 180))))
    assign_captions(objects, rng)
    camera = _sample_camera(rng, eye, target, fov, slot)
    cam0 = camera_pose(camera, 0.0)  # the first camera: object directions are relative to it
    duration = max(num_frames - 1, 1) / fps
    # Decks: the j-th translating object (agent) of a scene takes entry (offset + j) of its deck,
    # with the offset stratified across scenes, so directions and agent motions come out even.
    decks = {
        "translate": _stratum(seed, index, "translate", len(TRANSLATION_DECK)),
        "agent": _stratum(seed, index, "agent", len(AGENT_MOTIONS)),
    }
    for obj in objects:
        _assign_motion(rng, obj, objects, cam0, duration, cat, decks)

    relation = _relate_camera(rng, camera, objects, cam0, duration)

    props = _sample_props(rng, cat, azim)
    ground_texture = str(rng.choice(cat.get("ground_textures", ["default"])))
    gc = cat.get("ground_colours", [[1, 1, 1]])
    g = gc[int(rng.integers(len(gc)))]
    light = rng.normal(size=3)
    light[2] = abs(light[2]) + 1.5  # from above
    return SceneSpec(
        scene_id=scene_name(seed, index),
        seed=int(seed),
        index=int(index),
        num_frames=int(num_frames),
        fps=float(fps),
        width=int(width),
        height=int(height),
        objects=objects,
        props=props,
        camera=camera,
        ground_texture=ground_texture,
        ground_rgba=(float(g[0]), float(g[1]), float(g[2]), 1.0),
        light_direction=tuple(float(v) for v in light / np.linalg.norm(light)),
        tracks_per_object=int(tracks_per_object),
        background_tracks=int(background_tracks),
        camera_relation=relation,
    )


def _assign_motion(
    rng: np.random.Generator,
    obj: ObjectSpec,
    objects: list[ObjectSpec],
    cam0: np.ndarray,
    duration: float,
    cat: dict[str, Any],
    decks: dict[str, int],
) -> None:
    if obj.motion.kind == "struck":  # already chosen as the target of a collision
        return
    a = cat["objects"][obj.asset]
    if obj.is_agent:
        order = [AGENT_MOTIONS[(decks["agent"] + j) % len(AGENT_MOTIONS)] for j in range(len(AGENT_MOTIONS))]
        decks["agent"] += 1
        for move, turn in order:  # the dealt motion, else the next ones that fit
            for attempt in range(30):  # aimed at the stage centre first, then any heading
                obj.motion = _agent_motion(rng, obj, move, turn, aim=attempt < 10)
                if _path_clear(obj, objects):
                    return
        obj.motion = Motion()
        return
    # Shares tuned so the labels the engine reads come out even: few objects stay put (every
    # rotating one is also "static" for direction), most translate (10 direction labels).
    kinds = ["static", "translate", "rotate", "pushed", "falling", "colliding"]
    w = [0.09, 0.5, 0.14, 0.07, 0.05, 0.07]
    if a.get("round"):
        kinds.append("rolling")
        w.append(0.25)
    kind = _pick(rng, kinds, w)
    if kind == "translate":
        x, y, _ = obj.position
        # Sometimes in convoy with the previous translating object (same path, shifted): their
        # distance stays exactly constant while both move, which random motions rarely give.
        lead = next((o for o in reversed(objects[: objects.index(obj)]) if o.motion.kind == "translate"
                     and o.motion.label not in ("up", "down")), None)  # lifted pairs would be odd
        if lead is not None and rng.random() < CONVOY_SHARE:
            # In front of or behind the lead on its line of sight: the same displacement then
            # reads as the same direction from the first camera.
            _, los, _ = _first_view(cam0, lead)
            for _ in range(6):
                xy = np.asarray(lead.position[:2]) + los * rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 0.8)
                obj.position = (float(xy[0]), float(xy[1]), lead.position[2])
                obj.motion = Motion(**{**asdict(lead.motion), "yaw_deg": _spin(rng, p_none=SPIN_NONE)})
                if _reads_as(obj, cam0) and _path_clear(obj, objects):
                    return
        n = len(TRANSLATION_DECK)
        order = [TRANSLATION_DECK[(decks["translate"] + j) % n] for j in range(n)]
        decks["translate"] += 1
        for i in dict.fromkeys(order):  # the dealt direction, else the next ones that fit
            for attempt in range(24):
                obj.position = (x, y, 0.0)
                obj.motion = _translation(rng, obj, cam0, TRANSLATIONS[i])
                if attempt < 20:
                    # Start on the far side of the stage and move in towards the centre: the
                    # object stays in view, and it closes in on some objects as it opens up on
                    # others (random paths from a cluster mostly only separate).
                    d = np.asarray(obj.motion.displacement[:2])
                    if np.linalg.norm(d) > 1e-6:
                        xy = -d * rng.uniform(0.3, 1.0) + rng.normal(0.0, 0.35, 2)
                        obj.position = (float(xy[0]), float(xy[1]), obj.position[2])
                        obj.motion = _translation(rng, obj, cam0, TRANSLATIONS[i])
                if _path_clear(obj, objects):
                    return
        obj.position = (x, y, 0.0)
        obj.motion = Motion()
        return
    for _ in range(20):
        m = _draw_motion(rng, kind, obj, objects, cam0, duration)
        if m is None:
            break
        obj.motion = m
        if not m.kinematic or _path_clear(obj, objects):
            return
    obj.motion = Motion()  # nothing fitted: stay put


def _relate_camera(
    rng: np.random.Generator, cam: CameraSpec, objects: list[ObjectSpec], cam0: np.ndarray, duration: float
) -> dict[str, Any]:
    """For a trucking camera and a sideways-moving object: make the camera move with it, faster
    or slower, or against it, and record which (question families about relative motion).

    The truck keeps its sign (the camera label is stratified) and a magnitude clear of the label
    band: an object moving the other way makes it "against"; one moving the same way "faster" or
    "slower", the object's speed being adjusted for "slower" when its path stays clear."""
    truck = next((m for m in cam.moves if m.kind == "truck"), None)
    movers = [o for o in objects if o.motion.kind == "translate" and o.motion.label in ("left", "right")]
    if truck is None or not movers:
        return {}
    eye, target = np.asarray(cam.eye), np.asarray(cam.target)
    lo, hi = (v * float(np.linalg.norm(eye - target)) for v in CAM_MOVE_REL)
    cam_sign = 1.0 if truck.amount > 0 else -1.0
    o = movers[int(rng.integers(len(movers)))]
    span = o.motion.end - o.motion.start  # the camera moves over the whole clip, the object over span
    obj_d = float(np.linalg.norm(o.motion.displacement))
    obj_sign = 1.0 if o.motion.label == "right" else -1.0
    if obj_sign != cam_sign:
        return {"object": o.id, "relation": "against"}
    if rng.random() < 0.5:  # slower: the object outruns the camera
        factor = float(rng.uniform(0.4, 0.6))
        need = abs(truck.amount) / factor * span  # object displacement for that speed ratio
        old = o.motion
        o.motion = Motion(**{**asdict(old), "displacement": tuple(float(v) * need / obj_d for v in old.displacement)})
        if _path_clear(o, objects):
            return {"object": o.id, "relation": "slower"}
        o.motion = old
    factor = float(rng.uniform(1.6, 2.2))
    amount = float(np.clip(factor * obj_d / span, lo, hi))
    if amount < factor * obj_d / span:  # a camera that fast would leave the scene: slow the object
        old = o.motion
        scale = amount * span / (factor * obj_d)  # a shorter stretch of a clear path is clear
        o.motion = Motion(**{**asdict(old), "displacement": tuple(float(v) * scale for v in old.displacement)})
        if not _reads_as(o, cam0):  # too short to read as left/right: no relation
            o.motion = old
            return {}
    truck.amount = cam_sign * amount
    return {"object": o.id, "relation": "faster"}
