"""The STI family: STI-Bench-style 5-option questions from 4D ground truth (issue 10 point 2).

Tasks (the STI-Bench categories R4D-Bench keeps): video_grounding, dimension_measurement,
spatial_relationship (static), displacement_path_length, speed_acceleration (dynamic). Every
answer is measured from the scene's poses, extents, cameras and timestamps; the options are
drawn so that no distractor is within the quantity's tolerance (thresholds.json, documented in
docs/families/sti.md).
"""

from pathlib import Path

from qa4d.engine.registry import register_family

FAMILY = register_family(
    "sti",
    Path(__file__).parent,
    categories=("static", "dynamic"),
    slots=("t", "t0", "t1", "what", "unit"),
    doc="STI-Bench style (3D grounding, dimensions, spatial relations, displacement/path length, speed/acceleration)",
)

from qa4d.engine.families.sti import motion, static  # noqa: E402,F401  (imported for registration)
