"""The 4DP-QA family: 13 question types in 4 categories (4DP-QA paper, sec. 3.3).

This folder owns everything of the family: its task modules, templates/<task>.json, vocab.json
(label phrases), thresholds.json (its decision thresholds, one "default" block and per-source
blocks, typed by labels.Thresholds) and labels.py (label rules). Importing this package
registers the family, then its tasks in the paper's order.
"""

from pathlib import Path

from qa4d.engine.families.fourdpqa.labels import Thresholds
from qa4d.engine.registry import register_family

FAMILY = register_family(
    "4dpqa",
    Path(__file__).parent,
    categories=("camera_motion", "object_motion", "spatial", "point_tracking"),
    thresholds_class=Thresholds,
    doc="4DP-QA (13 question types: camera and object motion, spatial relations, point tracking)",
)

from qa4d.engine.families.fourdpqa import (  # noqa: E402,F401  (imported for registration)
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
