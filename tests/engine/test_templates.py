import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa4d.engine.families.fourdpqa import labels as L
from qa4d.engine.templates import (
    SLOTS,
    Template,
    TemplateError,
    fill,
    format_point,
    format_track,
    parse_track,
    slots_of,
)
from qa4d.engine import templates as _templates
from qa4d.engine.registry import family_tasks

TASKS = tuple(family_tasks("4dpqa"))


def load_templates(task, directory=None):
    return _templates.load_templates(task, family="4dpqa", directory=directory)

SAMPLE_SLOTS = {
    "obj": "the small red mug",
    "obj1": "the object circled in green in the 2nd image",
    "obj2": "the object at (0.412, 0.233) in frame 4",
    "obj3": "the blue toy car",
    "frame": "frame 5",
    "frame1": "the first frame",
    "frame2": "frame 32",
    "label": "moves to the right",
    "point": "(0.412, 0.233)",
    "query_frame": "frame 3",
    "target_frames": "frames 9, 1 and 14",
    "answer": "the small red mug",
}
DESCRIPTIVE = ("camera_movement", "camera_object_distance_change", "object_rotation", "object_direction",
               "agent_motion", "object_object_distance_change")
# Words that would give away a descriptive label if a question (not its {label} slot) used them.
LEAK_WORDS = re.compile(
    r"\b(left|right|up|down|forward|backward|backwards|pan|pans|tilt|tilts|roll|rolls|clockwise|counterclockwise|"
    r"towards?|away|closer|farther|nearer|increas\w*|decreas\w*|grow\w*|shrink\w*|constant|static|still|"
    r"approach\w*|reced\w*|stationary|straight)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize("task", TASKS)
def test_every_template_fills_with_its_slot_set(task):
    t = load_templates(task)
    assert t.task == task and t.formats
    for part, lists in (("questions", t.questions), ("answers", t.answers)):
        for fmt, templates in lists.items():
            assert len(templates) >= (8 if part == "questions" else 3), (task, part, fmt)
            assert len(set(templates)) == len(templates), f"{task} {part}.{fmt}: duplicate phrasing"
            provided = {k: SAMPLE_SLOTS[k] for k in t.provided[(part, fmt)]}
            for i, tpl in enumerate(templates):
                text = fill(tpl, **provided)
                assert "{" not in text and "}" not in text, (task, part, fmt, i)
                assert set(t.required[(part, fmt)]) <= set(slots_of(tpl))
    for fmt in ("free", "track"):
        if fmt in t.questions:
            assert len(t.answers[fmt]) >= 3


def test_task_formats_and_categories():
    cats = {task: load_templates(task).category for task in TASKS}
    assert cats["camera_movement"] == cats["camera_object_distance_change"] == "camera_motion"
    assert {cats[t] for t in ("object_rotation", "object_direction", "agent_motion", "moved_distance",
                              "object_object_distance_change")} == {"object_motion"}
    assert {cats[t] for t in ("depth", "object_object_distance", "multiview_depth",
                              "multiview_object_object_distance")} == {"spatial"}
    for task in ("visual_point_tracking", "true_motion_point_tracking"):
        assert cats[task] == "point_tracking" and load_templates(task).formats == ("track",)
    for task in TASKS[:11]:
        assert load_templates(task).formats == ("mc", "yesno", "free")
    assert load_templates("moved_distance").asks == "larger" and load_templates("depth").asks == "smaller"
    assert load_templates("camera_movement").asks is None


@pytest.mark.parametrize("task", DESCRIPTIVE)
def test_mc_and_yesno_questions_do_not_leak_the_label(task):
    t = load_templates(task)
    for fmt in ("mc", "yesno"):
        for i, tpl in enumerate(t.questions[fmt]):
            text = tpl.replace("{label}", "")
            # Reference systems, not answers: "seen from above" rotations, "the up direction".
            text = re.sub(r"top-down|[Ll]ooking down|up direction", "", text)
            hit = LEAK_WORDS.search(text)
            assert hit is None, f"{task} questions.{fmt}[{i}] says {hit.group(0)!r}: {tpl}"


@pytest.mark.parametrize("task", DESCRIPTIVE)
def test_every_label_phrase_reads_in_every_yesno_and_answer(task):
    t = load_templates(task)
    if task == "agent_motion":
        labels = [{"move": m, "turn": r} for m in L.AGENT_MOVE_LABELS for r in L.AGENT_TURN_LABELS]
    else:
        labels = [[x] if task in ("camera_movement", "object_direction") else x for x in L.vocabulary(task)]
    rng = np.random.default_rng(0)
    for label in labels:
        phrase = L.describe(task, label, rng)
        for tpl in t.questions["yesno"] + t.answers["free"]:
            text = fill(tpl, **{**SAMPLE_SLOTS, "label": phrase})
            assert phrase in text and "  " not in text


def test_fill_errors_name_task_index_and_slot():
    t = load_templates("depth")
    tpl = t.questions["yesno"][3]
    slots = {k: SAMPLE_SLOTS[k] for k in t.provided[("questions", "yesno")] if k != "obj2"}
    with pytest.raises(TemplateError, match=r"depth\.json \(task depth\): questions\.yesno\[3\]: missing slot \{obj2\}"):
        fill(tpl, **slots)
    with pytest.raises(TemplateError, match=r"unknown slot \{colour\}"):
        fill(Template("Is {obj} {colour}?", "x.json: questions.yesno[0]"), obj="it", colour="red")
    with pytest.raises(TemplateError, match="format spec"):
        fill("{obj:>10}", obj="it")
    with pytest.raises(TemplateError, match="brace"):
        fill("{obj", obj="it")
    assert fill("{{literal}} {obj}", obj="it", frame="ignored") == "{literal} it"


def test_loading_rejects_templates_that_drop_required_slots(tmp_path):
    data = json.loads(load_templates("depth").path.read_text())
    data["questions"]["yesno"][5] = "In {frame}, is {obj1} closer to the camera?"
    (tmp_path / "depth.json").write_text(json.dumps(data))
    with pytest.raises(TemplateError, match=r"questions\.yesno\[5\]: required slot \{obj2\} is not used"):
        load_templates("depth", directory=tmp_path)
    data["questions"]["yesno"][5] = "In {frame}, is {obj1} closer than {obj2} to {obj3}?"
    (tmp_path / "depth.json").write_text(json.dumps(data))
    with pytest.raises(TemplateError, match=r"slot \{obj3\} is not provided"):
        load_templates("depth", directory=tmp_path)  # failed loads are not cached
    with pytest.raises(TemplateError, match="unknown task"):
        load_templates("time_travel")


def test_slot_vocabulary_is_the_documented_one():
    assert set(SLOTS) == {"obj", "obj1", "obj2", "obj3", "frame", "frame1", "frame2", "label", "point",
                          "query_frame", "target_frames", "answer"}


def test_track_text_format():
    entries = [{"frame": 9, "x": 0.41249, "y": 0.2331, "visible": True},
               {"frame": 3, "x": 0.5, "y": 1.2, "visible": False},
               {"frame": 14, "x": -0.0001, "y": 1.0, "visible": True}]
    text = format_track(entries)
    assert text == "frame 9: (0.412, 0.233), visible; frame 3: occluded; frame 14: (0.000, 1.000), visible"
    assert format_track(entries[:1], frame_names={9: 2}) == "frame 2: (0.412, 0.233), visible"
    assert format_point(0.5, 0.25) == "(0.500, 0.250)"
    with pytest.raises(ValueError):
        format_point(float("nan"), 0.1)


track_entries = st.lists(
    st.fixed_dictionaries({
        "frame": st.integers(0, 200),
        "x": st.floats(0, 1, allow_nan=False),
        "y": st.floats(0, 1, allow_nan=False),
        "visible": st.booleans(),
    }),
    min_size=1, max_size=12, unique_by=lambda e: e["frame"],
)


@given(track_entries)
def test_track_text_round_trips(entries):
    back = parse_track(format_track(entries))
    assert [e["frame"] for e in back] == [e["frame"] for e in entries]
    for e, b in zip(entries, back):
        assert b["visible"] == e["visible"]
        if e["visible"]:
            assert abs(b["x"] - e["x"]) <= 5e-4 + 1e-12 and abs(b["y"] - e["y"]) <= 5e-4 + 1e-12


@given(track_entries)
def test_track_answers_parse_inside_every_answer_phrasing(entries):
    text = format_track(entries)
    for task in ("visual_point_tracking", "true_motion_point_tracking"):
        for tpl in load_templates(task).answers["track"]:
            assert parse_track(fill(tpl, answer=text)) == parse_track(text)
