"""Geometry core: pure NumPy, vectorised, shapes in every docstring."""

from qa4d.geometry.camera import (
    depth_to_points,
    in_image,
    intrinsics_from_fov,
    invert_rigid,
    look_at,
    pixel_grid,
    project,
    project_world,
    rigid_error,
    transform_points,
    unproject,
    unproject_to_world,
)
from qa4d.geometry.poses import (
    gravity_frame,
    relative_pose,
    rotation_about_axis,
    rotation_angle,
    rotation_vector,
    wrap_degrees,
    yaw_about_up,
    yaw_pitch,
)
from qa4d.geometry.tracks import (
    depth_test_visibility,
    normalise_uv,
    sample_depth,
    sample_pixels,
    true_motion_tracks,
    visual_tracks,
)
from qa4d.geometry.views import overlap_ratio, pairwise_overlap, rigid_body_segmentation

__all__ = [name for name in dir() if not name.startswith("_")]
