"""(12) Visual point tracking: the 2D track of a query point as seen by the moving camera (P2D)."""

from qa4d.engine.families.fourdpqa._base import Track
from qa4d.engine.registry import register_task


@register_task
class VisualPointTracking(Track):
    name = "visual_point_tracking"
    track_kind = "visual"
