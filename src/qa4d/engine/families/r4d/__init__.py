"""The R4D-Bench-style family: region-level questions whose objects are Set-of-Marks marks.

Each question refers to its objects as `<obj_1>`, `<obj_2>`, ... bound to numbered marks drawn at
the objects' innermost mask pixels on the first shown frame; that marked image is the record's
first image (`meta.som_image`), shown before the frames (R4D-Bench sends it as a prefix image).
The measurements and dead bands are those of the `vlm4d` family (4 options) and of the `sti`
family (5 options); translational and the five sti-derived tasks are their parents' with marks.
counting (how many of three marks translate / spin), rotational and false_positive have their own
option sets, because a mark cannot point at nothing: VLM4D's "no <object> there" would never be
right. See docs/families/r4d.md.
"""

from pathlib import Path

from qa4d.engine.registry import register_family

# R4D-Bench's nine categories (4D-RGPT sec. A2): VLM4D-derived, then STI-Bench-derived
VLM4D_CATEGORIES = ("translational", "rotational", "counting", "false_positive")
STI_CATEGORIES = ("video_grounding", "dimension_measurement", "spatial_relationship",
                  "speed_acceleration", "displacement_path_length")

FAMILY = register_family(
    "r4d",
    Path(__file__).parent,
    categories=VLM4D_CATEGORIES + STI_CATEGORIES,
    slots=("category", "t", "t0", "t1", "what", "unit"),
    doc="R4D-Bench-style region questions (<obj_k> bound to Set-of-Marks marks on the first frame)",
)

from qa4d.engine.families.r4d import tasks  # noqa: E402,F401  (imported for registration)
