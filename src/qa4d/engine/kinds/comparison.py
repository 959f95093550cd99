"""Comparison kind: which item has the smallest / largest value."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from qa4d.engine.kinds.base import (
    LETTERS, SceneContext, Task, _fill, _pick, _templates, refer_all,
)
from qa4d.engine.references import frame_phrase, object_reference, phrase


class CompareTask(Task):
    """Which item has the smallest / largest value. Items are dicts {"object", "frame",
    "ref_object"} ("frame": media position or None); values come from `value`."""

    kind = "compare"
    balance_mode = "cap"  # the key (winner's category) only describes the answer
    per_frame = True          # every item is at a media frame (depth, distances); False: whole segment
    multiview = False         # items at different frames

    def item_sets(self, ctx: SceneContext, seg: tuple[int, int], rng: np.random.Generator) -> list[list[dict[str, Any]]]:
        raise NotImplementedError

    def value(self, scene, item: dict[str, Any], media: Sequence[int], segment: Sequence[int]) -> float:
        raise NotImplementedError

    def clear(self, a: float, b: float, thresholds) -> bool:
        """a and b differ enough to say which is larger (labels.compare_label)."""
        return compare_label(a, b, thresholds, task=self.name) is not None

    def winner(self, values: Sequence[float], polarity: str, thresholds) -> int | None:
        v = np.asarray(values, dtype=np.float64)
        if not np.isfinite(v).all():
            return None
        w = int(np.argmin(v) if polarity == "min" else np.argmax(v))
        for j in range(len(v)):
            if j != w and not self.clear(float(v[w]), float(v[j]), thresholds):
                return None
        return w

    def candidates(self, ctx: SceneContext) -> list[dict[str, Any]]:
        out = []
        cfg = ctx.config
        for seg in ctx.segments(self.name):
            media = ctx.media(seg)
            rng = ctx.rng(self.name, seg[0])
            sets = self.item_sets(ctx, seg, rng)
            if not sets:
                ctx.skip(self.name, "not enough qualifying objects in segment")
                continue
            for items in sets:
                polarity = self.polarity()
                values = [self.value(ctx.scene, it, media, ctx.dense(seg)) for it in items]
                w = self.winner(values, polarity, ctx.thresholds)
                if w is None and len(items) > 2:
                    # fall back to a clear pair: the extreme item against one clearly different item
                    v = np.asarray(values)
                    if np.isfinite(v).all():
                        best = int(np.argmin(v) if polarity == "min" else np.argmax(v))
                        others = [j for j in range(len(items)) if j != best and self.clear(v[best], v[j], ctx.thresholds)]
                        if others:
                            j = others[int(rng.integers(len(others)))]
                            items, values = [items[best], items[j]], [values[best], values[j]]
                            w = 0
                if w is None:
                    ctx.skip(self.name, "values too close to compare")
                    continue
                colours: list[str] = []
                fixed = [None if it.get("frame") is None else [it["frame"]] for it in items]
                refs = refer_all(ctx, [(it["object"], f) for it, f in zip(items, fixed)], media, rng, colours)
                anchor = items[0].get("ref_object")
                ref_ref = None
                if anchor is not None and refs is not None:
                    frames = sorted({it["frame"] for it in items if it.get("frame") is not None})
                    allowed = [p for p in frames if ctx.seen_at(anchor, media[p])]
                    ref_ref = object_reference(ctx.scene, anchor, media, allowed, cfg.ref_modes, rng, colours,
                                               min_pixels=ctx.min_mask_pixels)
                    if ref_ref is None:
                        refs = None
                if refs is None:
                    ctx.skip(self.name, "object cannot be referred to (caption not unique, not visible)")
                    continue
                formats = ["yesno", "free"] + (["mc"] if len(items) >= self.options_count(cfg) else [])
                win_obj = ctx.scene.object(items[w]["object"])
                out.append(self.new_candidate(
                    ctx, seg, len(out), items=items, refs=refs, values=[float(x) for x in values], winner=w,
                    polarity=polarity, key=f"{polarity}:{win_obj.category}", formats=formats,
                    ref_object=anchor, ref_ref=ref_ref,
                ))
        return out

    def item_text(self, item: dict[str, Any], ref: dict[str, Any], rng, env, name_frame: bool) -> str:
        """Wording of an item. Multi-view items always carry their image: in the question's own
        {frameN} slot (name_frame False) or, as options, appended ("{obj} in {frame}")."""
        if not self.multiview:
            # single-frame questions name their frame once ("In {frame}, ..."): drop it from references
            return phrase(ref, env.scene_meta, rng, env.config.coord_style, name_frame=not self.per_frame)
        p = phrase(ref, env.scene_meta, rng, env.config.coord_style, name_frame=False)
        if name_frame:
            from qa4d.engine.references import phrases

            p = phrases()["item_at_frame"].format(obj=p, frame=frame_phrase(item["frame"]))
        return p

    def render(self, cand, fmt, choice, rng, env):
        t = _templates(self)
        items, refs, values, w = cand["items"], cand["refs"], cand["values"], cand["winner"]
        order: list[int]
        if fmt == "mc":
            others = [j for j in range(len(items)) if j != w]
            others = [int(j) for j in rng.permutation(others)][: self.options_count(env.config) - 1]
            order = list(others)
            order.insert(int(choice), w)
        else:
            others = [j for j in range(len(items)) if j != w]
            j = int(others[int(rng.integers(len(others)))])
            if fmt == "yesno":
                order = [w, j] if choice else [j, w]
            else:
                order = [w, j] if rng.random() < 0.5 else [j, w]
        texts = [self.item_text(items[i], refs[i], rng, env, name_frame=True) for i in order]
        bare = [self.item_text(items[i], refs[i], rng, env, name_frame=False) for i in order] if self.multiview else texts
        n = len(cand["frame_indices"])
        slots: dict[str, str] = {"frame1": frame_phrase(0), "frame2": frame_phrase(n - 1)}  # segment bounds
        extra = self.extra_slots(cand, order, rng, env)
        slots.update(extra)
        off = 1 if "obj1" in extra else 0
        for k, text in enumerate(bare):
            slots[f"obj{k + 1 + off}"] = text
        if self.per_frame and not self.multiview:
            slots["frame"] = frame_phrase(items[order[0]]["frame"])
        if self.multiview:
            for k, i in enumerate(order):
                slots[f"frame{k + 1}"] = frame_phrase(items[i]["frame"])
        new_w = order.index(w)
        meta: dict[str, Any] = {
            "objects": ([int(cand["ref_object"])] if cand.get("ref_object") is not None else []) + [int(items[i]["object"]) for i in order],
            "measurement": {"values": [values[i] for i in order], "polarity": cand["polarity"]},
            "items": [self.item_meta(cand, items[i]) for i in order],
            "winner": new_w,
            "polarity": cand["polarity"],
            "segment": cand["segment"],
            "refs": ([cand["ref_ref"]] if cand.get("ref_ref") else []) + [refs[i] for i in order],
            "item_texts": texts,
        }
        options = None
        if fmt == "mc":
            options = {LETTERS[k]: text for k, text in enumerate(texts)}
            question = _fill(_pick(rng, t.questions["mc"], f"{self.name} mc"), **slots)
            answer = LETTERS[new_w]
        elif fmt == "yesno":
            question = _fill(_pick(rng, t.questions["yesno"], f"{self.name} yesno"), **slots)
            answer = "yes" if new_w == 0 else "no"
        elif fmt == "free":
            question = _fill(_pick(rng, t.questions["free"], f"{self.name} free"), **slots)
            answer = _fill(_pick(rng, t.answers["free"], f"{self.name} free answer"), answer=texts[new_w], **slots)
        else:
            raise ValueError(f"{self.name}: unsupported answer format {fmt!r}")
        return {"question": question, "options": options, "answer": answer, "meta": meta}

    def polarity(self) -> str:
        """"min" or "max": what the task's templates ask for (their `asks`: smaller / larger)."""
        asks = _templates(self).asks
        if asks not in ("smaller", "larger"):
            raise ValueError(f"templates of {self.name}: 'asks' must be 'smaller' or 'larger', got {asks!r}")
        return "min" if asks == "smaller" else "max"

    def extra_slots(self, cand, order, rng, env) -> dict[str, str]:
        """The reference object of distance questions is {obj1}; the compared items follow."""
        if cand.get("ref_ref"):
            name_frame = self.multiview or not self.per_frame
            return {"obj1": phrase(cand["ref_ref"], env.scene_meta, rng, env.config.coord_style, name_frame=name_frame)}
        return {}

    def item_meta(self, cand: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        out = {"object": int(item["object"])}
        if item.get("frame") is not None:
            out["media"] = int(item["frame"])
            out["frame"] = int(cand["frame_indices"][item["frame"]])
        if item.get("ref_object") is not None:
            out["ref_object"] = int(item["ref_object"])
        return out

    def recompute(self, record, scene, thresholds):
        meta = record["meta"]
        seg = meta["segment"]
        media = record["frame_indices"]
        items = []
        for it in meta["items"]:
            d = {"object": it["object"], "frame": it.get("media"), "ref_object": it.get("ref_object")}
            items.append(d)
        values = [self.value(scene, it, media, list(range(seg[0], seg[1]))) for it in items]
        return {"values": values, "winner": self.winner(values, meta["polarity"], thresholds)}

    def check(self, record, scene, thresholds):
        meta = record["meta"]
        got = self.recompute(record, scene, thresholds)
        w = got["winner"]
        if w is None:
            return [f"values {got['values']} no longer give a clear {meta.get('polarity')}"]
        problems = []
        if w != meta.get("winner"):
            problems.append(f"meta.winner is {meta.get('winner')!r}, geometry gives {w}")
        fmt = record["answer_format"]
        if fmt == "mc" and record["answer"] != LETTERS[w]:
            problems.append(f"answer {record['answer']!r}, geometry gives {LETTERS[w]!r}")
        if fmt == "yesno" and record["answer"] != ("yes" if w == 0 else "no"):
            problems.append(f"answer {record['answer']!r}, geometry gives {'yes' if w == 0 else 'no'!r}")
        if fmt == "free":
            texts = meta.get("item_texts") or []
            if w >= len(texts) or texts[w] not in record["answer"]:
                problems.append(f"free answer {record['answer']!r} does not name the right item")
            elif any(t in record["answer"] and t not in texts[w] for i, t in enumerate(texts) if i != w):
                problems.append(f"free answer {record['answer']!r} names a wrong item")
        return problems


def compare_rel(th: Any, task: str) -> float:
    """Relative dead band of `compare_label` for a task: the task's entry in the family's
    `compare_rel` thresholds table."""
    table = getattr(th, "compare_rel", None)
    if table is None or task not in table:
        raise KeyError(f"thresholds of source {getattr(th, 'source', '?')!r}: compare_rel has no entry for task {task!r} "
                       f"(known: {sorted(table or {})})")
    return float(table[task])


def compare_label(
    a: float, b: float, th: Any = None, rel: float | None = None, task: str | None = None
) -> str | None:
    """Which of two non-negative quantities (depths, distances, path lengths) is LARGER: "a" or "b".

    None when |a - b| / max(|a|, |b|) < rel (too close to call) or either is NaN. `rel` defaults to
    th.compare(task) (per-task entries of `compare_rel`). A caller asking "which is closer" takes
    the other one.
    """
    if rel is None:
        if th is None or task is None:
            raise ValueError("compare_label: pass rel=..., or th and task= to look it up in compare_rel")
        rel = compare_rel(th, task)
    if not (math.isfinite(a) and math.isfinite(b)):
        return None
    top = max(abs(a), abs(b))
    if top <= 0 or abs(a - b) / top < rel:
        return None
    return "a" if a > b else "b"
