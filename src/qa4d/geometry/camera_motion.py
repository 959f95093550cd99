"""Camera movement between two images (MultiSPA sec. 3.2.1 and App. E).

Translation: d = (E_1^-1 E_2)[:3, 3], camera 2's position in camera 1's axes (X right, Y down,
Z forward). Direction words follow the sign of each component: x > 0 right (else left), y > 0
down (else up), z > 0 forward (else backward). Rotation: yaw and pitch of each camera's forward
axis in a gravity-aligned world (Eqs. 5-8); the change from image 1 to image 2 is
yaw_2 - yaw_1 wrapped to (-180, 180] and pitch_2 - pitch_1; yaw > 0 is "left" (counter-clockwise
about up, seen from above), pitch > 0 is "up". Roll is not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from qa4d.geometry.poses import relative_pose, wrap_degrees, yaw_pitch
from qa4d.geometry.units import metres_to_mm, to_int

TRANSLATION_WORDS = (("right", "left"), ("down", "up"), ("forward", "backward"))
YAW_WORDS = ("left", "right")
PITCH_WORDS = ("up", "down")


def camera_displacement(cam_to_world_1: np.ndarray, cam_to_world_2: np.ndarray) -> np.ndarray:
    """Camera 2's position in camera 1's axes (X right, Y down, Z forward), in metres.

    cam_to_world_1, cam_to_world_2: (..., 4, 4). Returns (..., 3).
    """
    return relative_pose(cam_to_world_1, cam_to_world_2)[..., :3, 3]


def sign_labels(values: np.ndarray, positive: str, negative: str, dead_band: float = 0.0) -> np.ndarray:
    """Word for the sign of each value: `positive` where value > 0, `negative` otherwise.

    With dead_band > 0, values with |value| <= dead_band get "" (too close to call). With the
    default 0 the rule is exactly MultiSPA's (a value of exactly 0 gets `negative`). NaN always
    gets "". values: (...,). Returns (...,) str.
    """
    v = np.asarray(values, dtype=np.float64)
    out = np.where(v > 0, positive, negative).astype(object)
    undecided = np.isnan(v) if dead_band <= 0 else np.isnan(v) | (np.abs(v) <= dead_band)
    return np.where(undecided, "", out).astype(str)


def translation_directions(displacement: np.ndarray, dead_band: float = 0.0) -> np.ndarray:
    """Direction words of each displacement component: right/left, down/up, forward/backward.

    displacement: (..., 3) in camera-1 axes; dead_band in the same unit ("" inside it).
    Returns (..., 3) str.
    """
    d = np.asarray(displacement, dtype=np.float64)
    return np.stack([sign_labels(d[..., i], *TRANSLATION_WORDS[i], dead_band=dead_band) for i in range(3)], -1)


def yaw_pitch_change(
    cam_to_world_1: np.ndarray, cam_to_world_2: np.ndarray, world_up: np.ndarray = (0.0, 0.0, 1.0)
) -> tuple[np.ndarray, np.ndarray]:
    """Change of yaw and pitch from camera 1 to camera 2, in degrees (MultiSPA App. E).

    yaw_i = atan2(f[1], f[0]), pitch_i = asin(f[2] / |f|) of the forward axis f = R[:, 2] in a
    world whose third axis is `world_up`. Returns (d_yaw wrapped to (-180, 180], d_pitch in
    [-180, 180]), each (...,). cam_to_world_*: (..., 4, 4); world_up: (3,).
    """
    y1, p1 = yaw_pitch(cam_to_world_1, world_up)
    y2, p2 = yaw_pitch(cam_to_world_2, world_up)
    return wrap_degrees(y2 - y1), p2 - p1


@dataclass(frozen=True)
class CameraMovement:
    """Everything MultiSPA asks about one image pair (image 1 is the reference).

    displacement_m: (3,) camera 2 in camera-1 axes, metres; distance_m: its norm; yaw_deg,
    pitch_deg: signed changes; directions: x, y, z, yaw, pitch -> word ("" = inside a dead band).
    """

    displacement_m: np.ndarray
    distance_m: float
    yaw_deg: float
    pitch_deg: float
    directions: dict

    def displacement_mm(self, rounding: str = "nearest") -> list[int]:
        """[x, y, z] in integer mm (MultiSPA's code truncates: rounding="truncate")."""
        return [int(v) for v in metres_to_mm(self.displacement_m, rounding)]

    def distance_mm(self, rounding: str = "nearest") -> int:
        """Total distance in integer mm (MultiSPA's code truncates)."""
        return int(metres_to_mm(self.distance_m, rounding))

    def yaw_degrees(self, rounding: str = "nearest") -> int:
        """|yaw change| in whole degrees (MultiSPA's code truncates)."""
        return int(to_int(abs(self.yaw_deg), rounding))

    def pitch_degrees(self, rounding: str = "nearest") -> int:
        """|pitch change| in whole degrees (MultiSPA's code truncates)."""
        return int(to_int(abs(self.pitch_deg), rounding))


def camera_movement(
    cam_to_world_1: np.ndarray,
    cam_to_world_2: np.ndarray,
    world_up: np.ndarray = (0.0, 0.0, 1.0),
    dead_band_m: float = 0.0,
    dead_band_deg: float = 0.0,
) -> CameraMovement:
    """Camera movement from image 1 to image 2 with direction words (MultiSPA App. E).

    Dead bands default to 0, MultiSPA's rule; a positive band leaves "" for components too close
    to zero to call. cam_to_world_*: (4, 4); world_up: (3,). Returns a CameraMovement.
    """
    d = camera_displacement(cam_to_world_1, cam_to_world_2)
    yaw, pitch = yaw_pitch_change(cam_to_world_1, cam_to_world_2, world_up)
    words = translation_directions(d, dead_band_m)
    directions = {
        "x": str(words[0]),
        "y": str(words[1]),
        "z": str(words[2]),
        "yaw": str(sign_labels(yaw, *YAW_WORDS, dead_band=dead_band_deg)),
        "pitch": str(sign_labels(pitch, *PITCH_WORDS, dead_band=dead_band_deg)),
    }
    return CameraMovement(d, float(np.linalg.norm(d)), float(yaw), float(pitch), directions)
