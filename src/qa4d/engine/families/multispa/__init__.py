"""The MultiSPA family (Multi-SpatialMLLM paper, "[MS]"; seed-specs §1): multi-frame spatial
questions on image sets ("Image-1", "Image-2") with numeric answers in backticks.

This folder owns the family's tasks (`camera.py`, `depth.py`), shared helpers (`_common.py`:
static point cloud, overlap-balanced pairs, label tasks), `templates/<task>.json`,
`thresholds.json` and `presets/`. Categories are the rows of [MS] Table 2, so `qa4d eval`
reports them per category. docs/families/multispa.md describes it.
"""

from pathlib import Path

from qa4d.engine.registry import register_family

FAMILY = register_family(
    "multispa",
    Path(__file__).parent,
    categories=(
        "depth_comparison", "depth_value",
        "vc_coordinate", "vc_mcq",
        "camera_orientation_direction", "camera_orientation_degree",
        "camera_translation_direction", "camera_translation_distance", "camera_translation_vector",
        "object_movement_distance", "object_movement_vector",
        "object_size",
    ),
    slots=("options", "point", "point1", "point2", "dot", "dot1", "dot2"),
    doc="MultiSPA (Multi-SpatialMLLM): depth, camera movement on image pairs, numeric answers",
)

from qa4d.engine.families.multispa import camera, correspondence, depth, movement, size  # noqa: E402,F401  (registration)
