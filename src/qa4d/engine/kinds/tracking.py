"""Tracking kind: where a query point is in named target images."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qa4d.engine import measure
from qa4d.engine.kinds.base import (
    SceneContext, Task, _fill, _pick, _templates, join_phrases,
)
from qa4d.engine.references import frame_phrase
from qa4d.engine.sampling import choose


class TrackTask(Task):
    """Where a query point is in named target images: visual (P2D) or true-motion (M2D) tracks
    (4DP-QA sec. 3.1). Coordinates are normalised to [0, 1] with 3 decimals; target images are
    named in random order, so the answer cannot be extrapolated frame by frame."""

    kind = "track"
    balance_mode = "none"
    track_kind = "visual"
    requires = ("tracks_world",)
    train_formats = ("track",)
    bench_formats = ("track",)

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        from qa4d.engine.references import point_reference
        from qa4d.engine.sampling import weighted_choice

        out = []
        cfg = ctx.config
        scene = ctx.scene
        w, h = scene.meta.width, scene.meta.height
        tobj = np.asarray(scene.tracks_object) if scene.has("tracks_object") else np.zeros(len(scene.tracks_world), np.int64)
        lo, hi = cfg.track_targets
        point_modes = {m: v for m, v in cfg.ref_modes.items() if m != "caption"} or {"coord": 1.0}
        for seg in ctx.segments(self.name):
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            if len(media) < 2:
                ctx.skip(self.name, "segment shorter than two frames")
                continue
            moving = np.isin(tobj, np.asarray(ctx.moving_ids(seg), dtype=np.int64))
            seen: set[tuple[int, int]] = set()
            for _ in range(cfg.samples_per_segment):
                q = int(rng.integers(len(media)))
                uv, vis = measure.tracks_2d(scene, media, int(media[q]), self.track_kind)
                finite = np.isfinite(uv).all(axis=-1)
                ok = vis[:, q] & finite[:, q]
                ok &= np.array([(i, q) not in seen for i in range(len(ok))], dtype=bool) if seen else True
                if not ok.any():
                    ctx.skip(self.name, "no point visible in the query frame")
                    continue
                # Half the questions on moving objects when there are any: background points alone
                # would teach only camera motion.
                pool = np.flatnonzero(ok & moving) if (ok & moving).any() and rng.random() < 0.5 else np.flatnonzero(ok)
                i = int(pool[int(rng.integers(len(pool)))])
                seen.add((i, q))
                others = [p for p in range(len(media)) if p != q and finite[i, p]]
                if not others:
                    ctx.skip(self.name, "point behind the camera in every other frame")
                    continue
                k = int(rng.integers(min(lo, len(others)), min(hi, len(others)) + 1))
                targets = choose(rng, others, max(k, 1))
                mode = weighted_choice(rng, point_modes)
                ref = point_reference(tuple(uv[i, q]), q, mode, w, h, [])
                track = []
                for p in targets:
                    x, y = np.clip(uv[i, p] / np.array([w, h]), 0.0, 1.0)
                    track.append({"frame": int(media[p]), "media": int(p), "x": round(float(x), 3), "y": round(float(y), 3),
                                  "visible": bool(vis[i, p])})
                n_vis = sum(e["visible"] for e in track)
                out.append(self.new_candidate(
                    ctx, seg, len(out), refs=[ref], track_index=i, object_id=int(tobj[i]),
                    query={"frame": int(media[q]), "media": q, "x": ref["x"], "y": ref["y"]}, track=track,
                    key=f"visible={n_vis}/{len(track)}", formats=["track"],
                ))
        return out

    def render(self, cand, fmt, choice, rng, env):
        from qa4d.engine.templates import format_point, format_track

        t = _templates(self)
        ref = cand["refs"][0]
        q = cand["query"]
        names = {e["frame"]: e["media"] + 1 for e in cand["track"]}
        if ref["mode"] == "coord":
            point = format_point(q["x"], q["y"])
        else:  # templates say "the point at {point} in {query_frame}"
            from qa4d.engine.references import phrases

            choices = phrases()["point_slot"]["prompt"]
            point = choices[int(rng.integers(len(choices)))].format(colour=ref["colour"])
        slots = {
            "point": point,
            "query_frame": frame_phrase(q["media"]),
            "target_frames": target_frames_text([e["media"] for e in cand["track"]]),
        }
        question = _fill(_pick(rng, t.questions["track"], f"{self.name} track"), **slots)
        answer_text = format_track(cand["track"], names)
        answer = _fill(_pick(rng, t.answers["track"], f"{self.name} track answer"), answer=answer_text, **slots)
        meta = {
            "objects": [cand["object_id"]] if cand["object_id"] > 0 else [],
            "measurement": {"track": cand["track"], "kind": self.track_kind},
            "query": q,
            "object_id": cand["object_id"],
            "track": cand["track"],
            "track_index": cand["track_index"],
            "segment": cand["segment"],
            "refs": cand["refs"],
            "answer_text": answer_text,
        }
        return {"question": question, "options": None, "answer": answer, "meta": meta}

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        media = record["frame_indices"]
        q = meta["query"]
        uv, vis = measure.tracks_2d(scene, media, int(q["frame"]), self.track_kind)
        i = int(meta["track_index"])
        w, h = scene.meta.width, scene.meta.height
        track = []
        for e in meta["track"]:
            p = media.index(e["frame"])
            x, y = np.clip(uv[i, p] / np.array([w, h]), 0.0, 1.0)
            track.append({"frame": e["frame"], "x": round(float(x), 3), "y": round(float(y), 3), "visible": bool(vis[i, p])})
        qp = media.index(q["frame"])
        query = {"x": round(float(uv[i, qp, 0] / w), 3), "y": round(float(uv[i, qp, 1] / h), 3), "visible": bool(vis[i, qp])}
        tobj = int(scene.tracks_object[i]) if scene.has("tracks_object") else 0
        return {"track": track, "query": query, "object_id": tobj}

    def check(self, record, scene, thresholds):
        from qa4d.engine.templates import format_track

        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        problems = []
        q = meta["query"]
        if not got["query"]["visible"] or abs(got["query"]["x"] - q["x"]) > 1.5e-3 or abs(got["query"]["y"] - q["y"]) > 1.5e-3:
            problems.append(f"query {q} disagrees with the track ({got['query']})")
        if got["object_id"] != meta.get("object_id"):
            problems.append(f"meta.object_id is {meta.get('object_id')}, the track belongs to {got['object_id']}")
        for e, g in zip(meta["track"], got["track"]):
            if e["visible"] != g["visible"] or abs(e["x"] - g["x"]) > 1.5e-3 or abs(e["y"] - g["y"]) > 1.5e-3:
                problems.append(f"track entry {e} disagrees with geometry {g}")
        names = {f: record["frame_indices"].index(f) + 1 for f in (e["frame"] for e in meta["track"])}
        text = format_track(meta["track"], names)
        if text not in record["answer"]:
            problems.append(f"answer {record['answer']!r} does not contain the track {text!r}")
        return problems


def target_frames_text(media_positions: Sequence[int]) -> str:
    """'frame 3' or 'frames 5, 2 and 7' (1-based, in the given order)."""
    from qa4d.engine.references import phrases

    nums = [str(p + 1) for p in media_positions]
    if len(nums) == 1:
        return frame_phrase(media_positions[0])
    word = phrases().get("frames_word", "frames")
    return f"{word} {join_phrases(nums)}"
