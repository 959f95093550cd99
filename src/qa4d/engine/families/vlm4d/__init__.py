"""The VLM4D-style family: 4-option multiple choice about motion, as in the published VLM4D files.

Tasks: `translational` (direction of travel relative to the first camera view, the camera's own
motion compensated), `translational_own` (an agent's move and turn in its own frame),
`rotational` (spin about the vertical axis seen from above), `counting` (objects that translate / spin) and
`false_positive` (not moving, not spinning, no <object> there). Records are grouped `ego`/`exo`
by whether the camera rides on an object of the scene (found from the poses). See
docs/families/vlm4d.md.
"""

from pathlib import Path

from qa4d.engine.registry import register_family

FAMILY = register_family(
    "vlm4d",
    Path(__file__).parent,
    categories=("translational", "rotational", "counting", "false_positive"),
    slots=("category",),
    doc="VLM4D-style multiple choice (translation, rotation, counting, false positives; ego/exo)",
)

from qa4d.engine.families.vlm4d import (  # noqa: E402,F401  (imported for registration)
    translational,
    translational_own,
    rotational,
    counting,
    false_positive,
)
