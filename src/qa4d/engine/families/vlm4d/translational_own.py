"""Translational, own frame: an agent's motion from its own perspective (forwards / backwards along
its heading at the first frame; turning left / right / straight while driving forwards)."""

import numpy as np

from qa4d.engine import measure
from qa4d.engine.families.vlm4d._base import VLM4DTask, band, category_of, pick, visible_pool
from qa4d.engine.registry import register_task


def own_motion(scene, oid: int, frames, th) -> tuple[str | None, str | None]:
    """(move, turn): move forward/backward when the displacement along the first heading is at
    least the high band (agent_translation_rel x body length) and dominates the sideways part,
    the path no longer than path_ratio_max x the displacement; turn (forward movers only)
    turn_left / turn_right / straight from the cumulative heading change (+ = left)."""
    m = measure.agent_motion(scene, scene.object_index(oid), frames)
    if not np.isfinite(m["forward"]) or not np.isfinite(m["size"]):
        return None, None
    lo, hi = (b * m["size"] for b in band(th, "agent_translation_rel"))
    total = float(np.hypot(m["forward"], m["left"]))
    if abs(m["forward"]) < hi or abs(m["forward"]) < th.agent_forward_ratio * abs(m["left"]) or m["path"] > th.path_ratio_max * total:
        return None, None
    move = "forward" if m["forward"] > 0 else "backward"
    if move == "backward":
        return move, None
    tlo, thi = band(th, "agent_turn_deg")
    turn = "turn_left" if m["yaw"] >= thi else "turn_right" if m["yaw"] <= -thi else "straight" if abs(m["yaw"]) <= tlo else None
    return move, turn


@register_task
class TranslationalOwn(VLM4DTask):
    name = "translational_own"
    category = "translational"

    def items(self, ctx, seg, frames, rng, exclude):
        sc = ctx.scene
        agents = [o for o in visible_pool(ctx, seg, exclude) if sc.objects[sc.object_index(o)].is_agent]
        out = []
        for oid in pick(rng, agents, ctx.config.samples_per_segment):
            move, turn = own_motion(sc, oid, frames, ctx.thresholds)
            if move is None or (move == "forward" and turn is None):
                ctx.skip(self.name, "no clear move along its heading, or no clear turn")
                continue
            turns = [k for k in ("turn_left", "turn_right", "straight") if k != turn]
            if move == "forward" and rng.random() < 0.5:
                # the other turns and reversing are clearly false for a forward mover
                out.append({"objects": [oid], "label": turn, "valid_keys": turns + ["backward"],
                            "meta": {"reference": "own", "own": "turn", "style": "translational_own_turn"}})
                continue
            # a forward mover's own turn would be true as well: only the other turns; "staying in
            # place" / "no <object> there" (never answers) only fill in
            valid = ["backward" if move == "forward" else "forward"] + (turns if move == "forward" else [])
            out.append({"objects": [oid], "label": move,
                        "valid_keys": valid + ["staying", f"absent:{category_of(sc, oid)}"],
                        "meta": {"reference": "own", "own": "move"}})
        return out

    def truth(self, scene, record, frames, th):
        move, turn = own_motion(scene, record["meta"]["objects"][0], frames, th)
        return turn if record["meta"]["own"] == "turn" else move

    def wrong(self, scene, record, key, true, frames, th):
        """Neither the move nor the turn the agent makes (a forwards answer makes its turn true too)."""
        move, turn = own_motion(scene, record["meta"]["objects"][0], frames, th)
        if key in (move, turn):
            return False
        if key in ("turn_left", "turn_right", "straight") and turn is None:
            return False  # turn unclear (a reversing agent): cannot call it false
        return super().wrong(scene, record, key, true, frames, th)
