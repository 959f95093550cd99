"""(12) Visual point tracking: the 2D track of a query point as seen by the moving camera (P2D)."""

from qa4d.engine.families.base import TrackTask
from qa4d.engine.registry import register_task


@register_task
class VisualPointTracking(TrackTask):
    name = "visual_point_tracking"
    track_kind = "visual"
