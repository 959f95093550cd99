"""(13) True-motion point tracking: the query point's track imaged by the fixed camera of the
query frame (M2D), so the camera's own motion is factored out."""

from qa4d.engine.families.fourdpqa._base import Track
from qa4d.engine.registry import register_task


@register_task
class TrueMotionPointTracking(Track):
    name = "true_motion_point_tracking"
    track_kind = "true_motion"
