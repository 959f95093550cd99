"""The 4DP-QA family: 13 question types in 4 categories (4DP-QA paper, sec. 3.3).

Importing this package registers its tasks, in the paper's order.
"""

from qa4d.engine.families.fourdpqa import (  # noqa: F401  (imported for registration)
    camera_movement,
    camera_object_distance_change,
    object_rotation,
    object_direction,
    agent_motion,
    moved_distance,
    object_object_distance_change,
    depth,
    object_object_distance,
    multiview_depth,
    multiview_object_object_distance,
    visual_point_tracking,
    true_motion_point_tracking,
)
