"""Scene kinds of the simulator (camera_motion, spinning, repeated, accelerating, ego): the decks
spread them evenly, and each scene's recorded ground truth (extra.sim[kind]) matches the poses
the simulator writes, checked against closed forms (second differences, yaw rates, reversals,
a rigid mount) rather than against the sampler's own arithmetic."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from qa4d.geometry.camera import invert_rigid, transform_points
from qa4d.geometry.poses import yaw_about_up, yaw_pitch
from qa4d.sources.sim import kinds as K
from qa4d.sources.sim.camera import camera_pose
from qa4d.sources.sim.deal import KIND_DECK, SCENE_KINDS, scene_kind
from qa4d.sources.sim.motion import scripted_pose
from qa4d.sources.sim.scenario import sample_scene
from qa4d.sources.sim.simulate import simulate_spec

T, SIZE = 10, 48
SMALL = {"tracks_per_object": 16, "background_tracks": 32}


def _spec(kind: str, index: int, frames: int = T, seed: int = 2):
    return sample_scene(seed, index, frames, SIZE, SIZE, kinds=(kind,), **SMALL)


def _simulate(spec):
    meta, arrays, _, _ = simulate_spec(spec)
    return meta.extra["sim"], arrays


def _find(kind: str, pred, frames: int = T, limit: int = 40):
    for i in range(limit):
        spec = _spec(kind, i, frames)
        if pred(spec.record):
            return spec
    raise AssertionError(f"no {kind} scene found")


def _pos(arrays, obj_id):
    return arrays["object_to_world"][obj_id - 1, :, :3, 3]


def _reversals(x: np.ndarray) -> list[int]:
    """Frames where a 1-D trajectory (T,) turns back: sign changes of its non-zero steps."""
    d = np.diff(x)
    idx = [i for i in range(len(d)) if abs(d[i]) > 1e-9]
    return [idx[j + 1] for j in range(len(idx) - 1) if np.sign(d[idx[j]]) != np.sign(d[idx[j + 1]])]


# -- decks -------------------------------------------------------------------------------------


def test_default_deck_spreads_kinds_and_keeps_mixed_scenes_unchanged():
    kinds = [scene_kind(5, i) for i in range(3 * len(KIND_DECK))]
    assert Counter(kinds) == Counter({k: 3 * KIND_DECK.count(k) for k in SCENE_KINDS})
    for i, k in enumerate(kinds[:8]):
        spec = sample_scene(5, i, 12, 32, 32)
        assert spec.kind == k
        if k == "mixed":  # a mixed scene does not depend on the deck it was dealt from
            alone = sample_scene(5, i, 12, 32, 32, kinds=("mixed",))
            assert json.dumps(spec.to_json()) == json.dumps(alone.to_json())
    with pytest.raises(ValueError, match="unknown"):
        scene_kind(0, 0, ("mixed", "nope"))


def test_kind_decks_come_out_evenly_within_each_kind():
    def run(kind, n, key):
        return Counter(key(sample_scene(1, i, 32, 32, 32, kinds=(kind,)).record) for i in range(n))

    spins = run("spinning", len(K.SPIN_DECK), lambda r: (r["counts"]["spinning"], r["counts"]["ccw"]))
    assert spins == Counter(set(K.SPIN_DECK))
    reps = run("repeated", len(K.REPEAT_DECK), lambda r: (r["event"], r["count"]))
    assert reps == Counter({(("start" if e == "sequence" else e), c): 1 for e, c in K.REPEAT_DECK})
    ego = run("ego", len(K.EGO_DECK), lambda r: (r["move"], r["turn"]))
    assert ego == Counter(set(K.EGO_DECK))
    cams = run("camera_motion", 2 * len(K.CAMERA_MOTION_SLOTS), lambda r: (r["move"], r["camera_amount"] > 0))
    assert cams == Counter({(m, s > 0): 2 for m, s in K.CAMERA_MOTION_SLOTS})
    # in a mixed deck, the kind-specific configurations are still dealt evenly over that kind
    mixed_deck = [sample_scene(1, i, 32, 32, 32) for i in range(8 * len(K.EGO_DECK))]
    ego_mixed = Counter((s.record["move"], s.record["turn"]) for s in mixed_deck if s.kind == "ego")
    assert ego_mixed == Counter({e: 1 for e in K.EGO_DECK})


# -- camera_motion ------------------------------------------------------------------------------


def _bearing(eye, p):
    d = p[:2] - eye[:2]
    return np.degrees(np.arctan2(d[1], d[0]))


def _wrap(a):
    return (a + 180.0) % 360.0 - 180.0


def test_camera_motion_records_object_camera_and_apparent_motion_in_closed_form():
    seen = Counter()
    for i in range(30):
        spec = sample_scene(3, i, 32, 32, 32, kinds=("camera_motion",))
        rec = spec.record
        c0, c1 = camera_pose(spec.camera, 0.0), camera_pose(spec.camera, 1.0)
        assert np.allclose(c1[:3, 3] - c0[:3, 3], rec["camera_displacement_m"], atol=1e-5)
        for row in rec["objects"]:
            obj = spec.objects[row["id"] - 1]
            p0 = np.array([obj.position[0], obj.position[1], obj.position[2] + 0.5 * obj.approx_extent[2]])
            p1 = p0 + scripted_pose(obj, 1.0)[0]
            assert np.allclose(p1 - p0, row["displacement_m"], atol=1e-5)
            if rec["move"] == "truck":  # camera frame is only translated: x in it moves by object - camera
                apparent = (invert_rigid(c1) @ np.append(p1, 1))[0] - (invert_rigid(c0) @ np.append(p0, 1))[0]
            elif rec["move"] == "pan":  # bearing of the object relative to the camera's heading
                apparent = _wrap((_bearing(c1[:3, 3], p1) - yaw_pitch(c1)[0]) - (_bearing(c0[:3, 3], p0) - yaw_pitch(c0)[0]))
                assert _wrap(_bearing(c0[:3, 3], p1) - _bearing(c0[:3, 3], p0)) == pytest.approx(row["object_amount"], abs=1e-4)
            else:  # dolly: change of the horizontal distance along the first line of sight
                los = (p0 - c0[:3, 3])[:2] / np.linalg.norm((p0 - c0[:3, 3])[:2])
                apparent = (p1 - c1[:3, 3])[:2] @ los - (p0 - c0[:3, 3])[:2] @ los
            assert apparent == pytest.approx(row["apparent_amount"], abs=1e-4), (spec.scene_id, row)
            o, c = row["object_amount"], row["camera_amount"]
            assert abs(c) > 0.1
            expect = {"static": o == 0, "against": o * c < 0, "faster": o * c > 0 and abs(o) >= 1.55 * abs(c),
                      "slower": o * c > 0 and abs(o) <= 0.65 * abs(c)}[row["relation"]]
            assert expect, row
            # the case the camera must not be mistaken for: world and apparent directions differ
            if row["relation"] in ("slower", "static"):
                assert row["world_direction"] != row["apparent_direction"]
            else:
                assert row["world_direction"] == row["apparent_direction"]
            seen[(rec["move"], row["relation"])] += 1
    assert {r for _, r in seen} == set(K.RELATIONS) and {m for m, _ in seen} == {"truck", "dolly", "pan"}


def test_camera_motion_scene_poses_follow_the_record():
    spec = _find("camera_motion", lambda r: r["move"] == "truck" and any(o["relation"] == "slower" for o in r["objects"]))
    sim, a = _simulate(spec)
    rec = sim["camera_motion"]
    c = a["cam_to_world"]
    assert np.allclose(c[-1, :3, 3] - c[0, :3, 3], rec["camera_displacement_m"], atol=1e-5)
    for row in rec["objects"]:
        p = _pos(a, row["id"])
        assert np.allclose(p[-1] - p[0], row["displacement_m"], atol=1e-5)
        x_cam = transform_points(invert_rigid(c), p)[:, 0]  # in each frame's camera
        assert x_cam[-1] - x_cam[0] == pytest.approx(row["apparent_amount"], abs=1e-4)
    assert sim["camera_mount"] == "world"


# -- spinning -----------------------------------------------------------------------------------


def test_spinning_objects_turn_at_the_recorded_rates_and_senses():
    spec = _find("spinning", lambda r: 0 < r["counts"]["ccw"] < r["counts"]["spinning"] >= 3)
    sim, a = _simulate(spec)
    rec = sim["spinning"]
    assert rec["counts"]["spinning"] == len(rec["objects"]) and "counter-clockwise" in rec["convention"]
    rot = a["object_to_world"][:, :, :3, :3]
    rates = []
    for row in rec["objects"]:
        k = row["id"] - 1
        step = yaw_about_up(rot[k, 1:] @ np.swapaxes(rot[k, :-1], 1, 2))  # (T-1,) degrees per frame
        assert np.allclose(step * spec.fps, row["yaw_rate_deg_s"], atol=1e-3)
        assert np.allclose(_pos(a, row["id"]), _pos(a, row["id"])[0], atol=1e-6)  # spins in place
        # sense seen from above, independently of yaw: a surface point's angular momentum about up
        pts = a["tracks_world"][a["tracks_object"] == row["id"]].astype(np.float64)  # (n, T, 3)
        r = pts[:, :-1, :2] - _pos(a, row["id"])[None, :-1, :2]
        v = np.diff(pts[:, :, :2], axis=1)
        lz = (r[..., 0] * v[..., 1] - r[..., 1] * v[..., 0]).sum()
        assert np.sign(lz) == (1 if row["direction"] == "ccw" else -1) == np.sign(row["yaw_rate_deg_s"])
        rates.append(abs(row["yaw_rate_deg_s"]))
    rates.sort()
    assert all(b / a_ == pytest.approx(K.SPIN_RATIO) for a_, b in zip(rates, rates[1:]))
    for oid in rec["not_spinning"]:
        assert np.allclose(rot[oid - 1], rot[oid - 1, :1], atol=1e-9)


# -- accelerating -------------------------------------------------------------------------------


def test_accelerations_equal_second_differences_of_the_poses():
    spec = _find("accelerating", lambda r: {o["role"] for o in r["objects"]} >= {"speeding_up", "slowing_down"})
    sim, a = _simulate(spec)
    dt = 1.0 / spec.fps
    roles = set()
    for row in sim["accelerating"]["objects"]:
        p = _pos(a, row["id"])
        u = np.asarray(row["direction_world"])
        acc = (p[2:] - 2 * p[1:-1] + p[:-2]) / dt**2  # (T-2, 3)
        assert np.allclose(acc @ u, row["acceleration_mps2"], atol=1e-6)
        assert np.allclose(acc - np.outer(acc @ u, u), 0.0, atol=1e-6)  # along a straight line
        v = np.diff(p, axis=0) / dt @ u  # mean speed over each frame step
        assert v[0] == pytest.approx(row["initial_speed_mps"] + 0.5 * row["acceleration_mps2"] * dt, abs=1e-6)
        assert v[-1] == pytest.approx(row["final_speed_mps"] - 0.5 * row["acceleration_mps2"] * dt, abs=1e-6)
        sign = {"speeding_up": 1, "slowing_down": -1, "constant": 0}[row["role"]]
        assert np.sign(round(row["acceleration_mps2"], 9)) == sign
        if sign:
            assert max(v[0], v[-1]) > 2.5 * min(v[0], v[-1])  # clearly faster or slower
        roles.add(row["role"])
    assert {"speeding_up", "slowing_down"} <= roles


# -- repeated -----------------------------------------------------------------------------------


def test_back_and_forth_count_matches_the_reversals_of_the_trajectory():
    spec = _find("repeated", lambda r: r["event"] == "oscillate" and r["cycles"] >= 2, frames=12)
    sim, a = _simulate(spec)
    rec = sim["repeated"]
    p = _pos(a, rec["object"])
    x = (p - p[0]) @ np.asarray(rec["axis"])
    turns = _reversals(x)
    assert len(turns) == rec["reversals"] == 2 * rec["cycles"] - 1
    assert [t / spec.fps for t in turns] == pytest.approx(rec["reversal_times_s"])
    assert np.allclose(p[-1], p[0], atol=1e-6)  # back where it started
    assert x.max() == pytest.approx(rec["amplitude_m"], abs=1e-6) or -x.min() == pytest.approx(rec["amplitude_m"], abs=1e-6)


def test_hops_are_parabolas_under_gravity_and_counted():
    spec = _find("repeated", lambda r: r["event"] == "hop" and r["hops"] >= 2, frames=14)
    sim, a = _simulate(spec)
    rec = sim["repeated"]
    z = _pos(a, rec["object"])[:, 2]
    assert len(_reversals(z)) == rec["reversals"] == 2 * rec["hops"] - 1
    ground = z.min()
    landings = [t for t in range(1, len(z)) if z[t] == pytest.approx(ground, abs=1e-9) and z[t - 1] > ground + 1e-6]
    assert [t / spec.fps for t in landings] == pytest.approx(rec["landing_times_s"])
    dt = 1.0 / spec.fps
    for t0, t1 in zip(rec["launch_times_s"], rec["landing_times_s"]):
        f0, f1 = round(t0 * spec.fps), round(t1 * spec.fps)
        dd = (z[f0 + 2: f1 + 1] - 2 * z[f0 + 1: f1] + z[f0: f1 - 1]) / dt**2
        assert np.allclose(dd, -rec["gravity_mps2"], atol=1e-6)  # free fall between contacts
        assert z[f0: f1 + 1].max() - ground == pytest.approx(rec["apex_height_m"], abs=1e-6)


def test_objects_start_one_after_another_at_the_recorded_times():
    spec = _find("repeated", lambda r: r["event"] == "start" and r["count"] >= 3, frames=12)
    sim, a = _simulate(spec)
    rec = sim["repeated"]
    starts, ends = [], []
    for oid in rec["order"]:
        moving = np.linalg.norm(np.diff(_pos(a, oid), axis=0), axis=1) > 1e-9  # step t -> t+1
        starts.append(np.argmax(moving) / spec.fps)
        ends.append((len(moving) - np.argmax(moving[::-1])) / spec.fps)
    assert starts == pytest.approx(rec["start_times_s"]) and ends == pytest.approx(rec["end_times_s"])
    assert starts == sorted(starts) and len(set(starts)) == rec["count"]


# -- ego ----------------------------------------------------------------------------------------


def test_agent_mounted_camera_rides_rigidly_on_its_agent():
    spec = _find("ego", lambda r: r["move"] == "forward" and r["turn"] != "straight")
    sim, a = _simulate(spec)
    assert sim["camera_mount"] == "agent" and sim["camera_agent"] == sim["ego"]["agent"]
    agent = a["object_to_world"][sim["camera_agent"] - 1]
    rel = invert_rigid(agent) @ a["cam_to_world"]  # (T, 4, 4) camera in the agent's frame
    assert np.allclose(rel, rel[0], atol=1e-9)
    assert np.allclose(rel[0], np.asarray(sim["camera_mount_pose"]), atol=1e-5)
    # it looks along the agent's forward axis, pitched down by the recorded angle
    fwd = agent[0, :3, :3] @ np.asarray(spec.objects[sim["camera_agent"] - 1].forward_axis)
    view = a["cam_to_world"][0, :3, 2]
    assert np.degrees(np.arcsin(-view[2])) == pytest.approx(sim["ego"]["pitch_deg"], abs=1e-4)
    assert view[:2] @ fwd[:2] / np.linalg.norm(view[:2]) / np.linalg.norm(fwd[:2]) == pytest.approx(1.0, abs=1e-9)
    # and it moves and turns with the agent, by the agent's motion
    c = a["cam_to_world"]
    turn = yaw_about_up(c[-1, :3, :3] @ c[0, :3, :3].T)
    assert turn == pytest.approx(spec.objects[sim["camera_agent"] - 1].motion.yaw_deg, abs=1e-6)
    assert np.linalg.norm(c[-1, :3, 3] - c[0, :3, 3]) > 0.3
    assert a["object_visible"][1:].any(axis=1).sum() >= 1  # it sees the other objects


def test_world_cameras_are_recorded_as_such():
    for kind in ("spinning", "repeated", "accelerating", "camera_motion"):
        s = _spec(kind, 0).summary()
        assert s["kind"] == kind and s["camera_mount"] == "world" and "camera_agent" not in s
    assert sample_scene(5, 0, 8, 32, 32, kinds=("mixed",)).summary()["camera_mount"] == "world"


# -- the scenes on disk -------------------------------------------------------------------------


def test_cli_writes_every_kind_valid_and_generate_and_audit_accept_them(tmp_path):
    from qa4d.cli import main
    from qa4d.engine.audit import audit
    from qa4d.engine.config import GenerateConfig
    from qa4d.engine.generate import generate
    from qa4d.dataset import validate_record
    from qa4d.scene.format import read_meta
    from qa4d.scene.validate import validate_scene

    new = [k for k in SCENE_KINDS if k != "mixed"]
    out = tmp_path / "scenes"
    argv = ["simulate", "--out", str(out), "--scenes", str(len(new)), "--frames", "12", "--size", "48", "--seed", "1",
            "--tracks-per-object", "24", "--background-tracks", "48", "--kinds", *new]
    assert main(argv) == 0
    dirs = sorted(out.iterdir())
    assert sorted(read_meta(d).extra["sim"]["kind"] for d in dirs) == sorted(new)  # one block: each kind once
    for d in dirs:
        assert validate_scene(d) == [], d
        sim = read_meta(d).extra["sim"]
        assert sim[sim["kind"]], d  # the kind's ground truth is there
    assert main(argv[: -len(new) - 1] + ["--kinds", "nope"]) == 2
    ds = tmp_path / "ds"
    generate(GenerateConfig(scenes=str(out), out=str(ds), seed=0, bench_fraction=0.4, media_frames=4,
                            segment_frames=12), log=lambda m: None)
    recs = [json.loads(x) for s in ("train", "bench") for x in (ds / s / "samples.jsonl").read_text().splitlines()]
    assert len({r["scene_id"] for r in recs}) >= 4
    for i, r in enumerate(recs):
        validate_record(r, "samples.jsonl", i)
    rep = audit(ds)
    assert rep["disagreements"] == [] and rep["schema_errors"] == []


def test_short_clips_shrink_counts_to_what_fits_and_too_short_ones_are_refused():
    for i in range(len(K.REPEAT_DECK)):
        spec = _spec("repeated", i, frames=5)  # 4 frame steps: at most 2 cycles, 2 hops, 3 starts
        r = spec.record
        last = max([*r.get("reversal_times_s", []), *r.get("landing_times_s", []), *r.get("end_times_s", [])])
        assert 1 <= r["count"] and last <= spec.duration + 1e-9
    with pytest.raises(ValueError, match="at least 3 frames"):
        _spec("repeated", 0, frames=2)


def test_objects_keep_clear_of_the_camera_and_of_each_other():
    from qa4d.sources.sim.camera import scene_camera_pose
    from qa4d.sources.sim.motion import closed_form_object_pose

    times = np.linspace(0.0, 1.0, 33)
    for kind in ("camera_motion", "spinning", "repeated", "accelerating", "ego"):
        for i in range(6):
            spec = sample_scene(4, i, 32, 32, 32, kinds=(kind,))
            cams = [scene_camera_pose(spec, float(s)) for s in times]
            others = [o for o in spec.objects if o.id != spec.camera.mount]
            for o in others:
                for s, c in zip(times, cams):
                    p = closed_form_object_pose(o, float(s))[:3, 3] - c[:3, 3]
                    gap = np.linalg.norm(p[:2]) - o.radius
                    assert gap > (0.35 if spec.camera.mount else 0.95), (spec.scene_id, o.id, s)
                    if not spec.camera.mount:
                        assert p @ c[:3, 2] > 0.45, (spec.scene_id, o.id, s)  # in front of it
            # footprints of objects on the ground never overlap (hopping ones pass over)
            for s in times:
                pos = {o.id: closed_form_object_pose(o, float(s))[:3, 3] for o in spec.objects}
                low = [o for o in spec.objects if pos[o.id][2] - 0.5 * o.approx_extent[2] < 0.05]
                for j, a_ in enumerate(low):
                    for b in low[j + 1:]:
                        d = np.linalg.norm(pos[a_.id][:2] - pos[b.id][:2])
                        assert d > 0.8 * (a_.radius + b.radius), (spec.scene_id, a_.id, b.id, s)


def test_resume_redoes_exactly_the_scenes_whose_kind_changed(tmp_path):
    from qa4d.sources.sim.simulate import SimOptions, run_simulation

    small = dict(num_frames=4, size=32, tracks_per_object=8, background_tracks=16)
    first = run_simulation(tmp_path, 4, 0, SimOptions(kinds=("mixed",), **small), progress=False)
    assert first.written == [0, 1, 2, 3]
    again = run_simulation(tmp_path, 4, 0, SimOptions(**small), progress=False)  # the default deck
    mixed = [i for i in range(4) if scene_kind(0, i) == "mixed"]
    assert again.skipped == mixed and again.written == [i for i in range(4) if i not in mixed]
    assert 0 < len(mixed) < 4
