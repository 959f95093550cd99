"""The TimeBench family (4D-RGPT supplementary, sec. A3): how much time passes in a clip.

One task, `elapsed_time`: the frames of a scene segment are shown as a clip re-timed to one of
4 frame rates between 10 and 30 fps (timing.json); the question states the rate and the frame
step between the shown images, and asks for the time from the first shown image to the last, as
a 5-option multiple choice (the true duration and 0.25x, 0.5x, 2x, 4x of it, 2 decimals).
docs/families/timebench.md describes it.
"""

from pathlib import Path

from qa4d.engine.registry import register_family

FAMILY = register_family(
    "timebench",
    Path(__file__).parent,
    categories=("time",),
    slots=("fps", "images", "step"),
    doc="TimeBench (elapsed time over clips re-timed to 4 frame rates)",
)

from qa4d.engine.families.timebench import elapsed_time  # noqa: E402,F401  (registers the task)
