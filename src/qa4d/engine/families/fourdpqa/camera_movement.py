"""(1) Camera movement: how the camera translates and rotates, in the first frame's camera axes."""

from qa4d.engine import measure
from qa4d.engine.families.fourdpqa import labels
from qa4d.engine.families.fourdpqa._base import Descriptive
from qa4d.engine.registry import register_task


@register_task
class CameraMovement(Descriptive):
    name = "camera_movement"
    category = "camera_motion"
    n_objects = 0
    list_label = True
    vocabulary = labels.CAMERA_MOVEMENT_LABELS + ("static",)
    opposite = {
        "left": "right", "right": "left", "up": "down", "down": "up", "forward": "backward", "backward": "forward",
        "pan_left": "pan_right", "pan_right": "pan_left", "tilt_up": "tilt_down", "tilt_down": "tilt_up",
        "roll_cw": "roll_ccw", "roll_ccw": "roll_cw",
    }

    def measure(self, scene, object_ids, frames):
        return measure.camera_motion_scene(scene, frames)

    def label(self, m, th):
        return labels.camera_movement_label(m, th)
