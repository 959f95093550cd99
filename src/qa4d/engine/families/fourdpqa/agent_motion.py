"""(5) Agent motion: how an agent (person, car, ...) moves in its own reference system."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa import labels
from qa4d.engine.families.fourdpqa._base import Descriptive
from qa4d.engine.registry import register_task


@register_task
class AgentMotion(Descriptive):
    name = "agent_motion"
    category = "object_motion"
    requires = ("object_to_world",)
    n_objects = 1
    vocabulary = tuple(
        {"move": m, "turn": t}  # type: ignore[misc]
        for m in labels.AGENT_MOVE_LABELS for t in labels.AGENT_TURN_LABELS
    )

    def check_scene(self, scene):
        reason = super().check_scene(scene)
        if reason is None and not any(o.is_agent for o in scene.objects):
            return "scene has no agents"
        return reason

    def object_pools(self, ctx, seg):
        return [[oid for oid in ctx.visible_ids(seg) if ctx.scene.object(oid).is_agent]]

    def measure(self, scene, object_ids, frames):
        return measure.agent_motion(scene, scene.object_index(object_ids[0]), frames)

    def label(self, m, th):
        return labels.agent_motion_label(m, th)
