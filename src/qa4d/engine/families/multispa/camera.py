"""Camera movement on an image pair ([MS] sec. 3.2.1, App. E; seed-specs §1.7): direction words
per axis (x, y, z, yaw, pitch), yaw/pitch degrees, total distance and displacement vector, all of
camera 2 relative to camera 1, from the cameras alone (`qa4d.geometry.camera_motion`)."""

from __future__ import annotations

from typing import Any

from qa4d.engine.families.multispa._common import PairMixin, WordTask
from qa4d.engine.kinds.numeric import NumericTask
from qa4d.engine.registry import register_task
from qa4d.geometry.camera_motion import camera_movement


def movement(scene: Any, frames: list[int], th: Any):
    """CameraMovement from image 1 to image 2 with the family's dead bands."""
    c2w = scene.cam_to_world
    return camera_movement(c2w[frames[0]], c2w[frames[1]], scene.world_up,
                           dead_band_m=float(th.direction_dead_band_m),
                           dead_band_deg=float(th.direction_dead_band_deg))


class _Direction(WordTask):
    family = "multispa"
    axis = ""

    def word(self, scene, frames, thresholds):
        return movement(scene, frames, thresholds).directions[self.axis]


@register_task
class CameraXMovement(_Direction):
    name, category, axis, vocabulary = "camera_x_movement", "camera_translation_direction", "x", ("left", "right")


@register_task
class CameraYMovement(_Direction):
    name, category, axis, vocabulary = "camera_y_movement", "camera_translation_direction", "y", ("up", "down")


@register_task
class CameraZMovement(_Direction):
    name, category, axis, vocabulary = "camera_z_movement", "camera_translation_direction", "z", ("forward", "backward")


@register_task
class CameraYawMovement(_Direction):
    name, category, axis, vocabulary = "camera_yaw_movement", "camera_orientation_direction", "yaw", ("left", "right")


@register_task
class CameraPitchMovement(_Direction):
    name, category, axis, vocabulary = "camera_pitch_movement", "camera_orientation_direction", "pitch", ("up", "down")


class _Angle(PairMixin, NumericTask):
    family = "multispa"
    category = "camera_orientation_degree"
    answer_format = "scalar"
    unit = "deg"
    which = ""

    def value(self, scene, item, media, thresholds):
        m = movement(scene, list(media), thresholds)
        if not m.directions[self.which]:      # inside the dead band: not asked
            return None
        return abs(m.yaw_deg if self.which == "yaw" else m.pitch_deg)


@register_task
class CameraYawAngle(_Angle):
    name, which = "camera_yaw_angle", "yaw"


@register_task
class CameraPitchAngle(_Angle):
    name, which = "camera_pitch_angle", "pitch"


@register_task
class CameraTotalDistance(PairMixin, NumericTask):
    family = "multispa"
    name = "camera_total_distance"
    category = "camera_translation_distance"
    answer_format = "scalar"
    unit = "mm"

    def value(self, scene, item, media, thresholds):
        m = movement(scene, list(media), thresholds)
        return None if m.distance_m < float(thresholds.direction_dead_band_m) else 1000.0 * m.distance_m


@register_task
class CameraDisplacementVector(PairMixin, NumericTask):
    family = "multispa"
    name = "camera_displacement_vector"
    category = "camera_translation_vector"
    answer_format = "vector"
    unit = "mm"

    def value(self, scene, item, media, thresholds):
        m = movement(scene, list(media), thresholds)
        if m.distance_m < float(thresholds.direction_dead_band_m):
            return None
        return [1000.0 * float(v) for v in m.displacement_m]
