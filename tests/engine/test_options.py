from collections import Counter

import numpy as np

from qa4d.engine.kinds.base import label_key
from qa4d.engine.options import assign_choices, assign_formats, balance
from qa4d.engine.registry import get_task


def cands(counts: dict[str, int]) -> list[dict]:
    out = []
    for key, n in counts.items():
        out += [{"uid": f"{key}/{i:03d}", "key": key} for i in range(n)]
    return out


def test_balance_equal_gives_equal_label_counts_and_is_deterministic():
    c = cands({"a": 30, "b": 12, "c": 50})
    kept, dropped = balance(c, np.random.default_rng(0))
    assert Counter(x["key"] for x in kept) == {"a": 12, "b": 12, "c": 12}
    assert dropped == {"label cut to balance labels": 56}
    again, _ = balance(list(reversed(c)), np.random.default_rng(0))
    assert [x["uid"] for x in kept] == [x["uid"] for x in again]


def test_balance_drops_a_label_too_rare_to_balance():
    kept, dropped = balance(cands({"a": 40, "b": 40, "c": 2}), np.random.default_rng(0))
    assert Counter(x["key"] for x in kept) == {"a": 40, "b": 40}
    assert dropped["label too rare to balance"] == 2


def test_balance_cap_limits_dominant_keys_only():
    kept, _ = balance(cands({"a": 100, "b": 5, "c": 4, "d": 6}), np.random.default_rng(0), mode="cap")
    got = Counter(x["key"] for x in kept)
    assert got == {"a": 11, "b": 5, "c": 4, "d": 6}  # cap = ceil(2 x median 5.5)


def test_balance_uniform_equalises_each_group_and_drops_a_group_lacking_a_label():
    """Keys "GROUP:LABEL": every group keeps its rarest label's count of each label; a group
    without one of the labels the input has is dropped whole."""
    c = cands({"move:0": 9, "move:1": 4, "move:2": 7, "spin:0": 20, "spin:1": 2, "spin:2": 3, "hop:1": 5, "hop:2": 5})
    kept, dropped = balance(c, np.random.default_rng(0), mode="uniform")
    assert Counter(x["key"] for x in kept) == {"move:0": 4, "move:1": 4, "move:2": 4, "spin:0": 2, "spin:1": 2, "spin:2": 2}
    assert dropped == {"group lacks an answer the others have (cannot be balanced)": 10,
                       "label cut to balance labels": (9 - 4) + (7 - 4) + (20 - 2) + (3 - 2)}
    again, _ = balance(list(reversed(c)), np.random.default_rng(0), mode="uniform")
    assert [x["uid"] for x in kept] == [x["uid"] for x in again]
    # within each group, whatever the group, the answer is uniform
    for g in ("move", "spin"):
        got = Counter(x["key"].split(":")[1] for x in kept if x["key"].startswith(g + ":"))
        assert len(set(got.values())) == 1 and set(got) == {"0", "1", "2"}


def test_formats_follow_weights_within_every_label():
    c = cands({"a": 40, "b": 40})
    for x in c:
        x["formats"] = ["mc", "yesno", "free"]
    out = assign_formats(c, lambda x: x["formats"], {"mc": 0.5, "yesno": 0.25, "free": 0.25}, np.random.default_rng(1))
    for key in ("a", "b"):
        f = Counter(fmt for x, fmt in out if x["key"] == key)
        assert f == {"mc": 20, "yesno": 10, "free": 10}


def test_formats_balanced_when_every_label_is_rare():
    # many labels of one or two candidates each (camera_movement): the mix must still hold overall
    c = cands({f"l{i:02d}": 1 + i % 2 for i in range(40)})
    for x in c:
        x["formats"] = ["mc", "yesno", "free"]
    out = assign_formats(c, lambda x: x["formats"], {"mc": 0.5, "yesno": 0.5}, np.random.default_rng(0))
    f = Counter(fmt for _, fmt in out)
    assert abs(f["mc"] - f["yesno"]) <= 1 and f["free"] == 0


def test_formats_respect_what_a_candidate_allows():
    c = cands({"a": 10})
    for i, x in enumerate(c):
        x["formats"] = ["yesno", "free"] if i % 2 else ["track"]
    out = assign_formats(c, lambda x: x["formats"], {"mc": 0.5, "yesno": 0.5}, np.random.default_rng(0))
    for x, fmt in out:
        assert fmt in x["formats"]


def test_choices_balance_positions_and_yes_no():
    c = cands({"a": 41, "b": 40, "c": 39})
    items = [(x, "mc") for x in c[:60]] + [(x, "yesno") for x in c[60:]]
    out = assign_choices(items, lambda x: 4, np.random.default_rng(0))
    pos = Counter(ch for _, f, ch in out if f == "mc")
    assert sorted(pos) == [0, 1, 2, 3] and max(pos.values()) - min(pos.values()) <= 1
    yn = Counter(ch for _, f, ch in out if f == "yesno")
    assert abs(yn[True] - yn[False]) <= 1


def test_distractors_are_never_the_answer_nor_partly_true():
    task = get_task("4dpqa", "camera_movement")
    rng = np.random.default_rng(0)
    pool = {"left": 5, "left+forward": 5, "right": 5, "static": 5, "forward": 5, "pan_left": 5}
    for _ in range(200):
        true = ["left", "forward"]
        d = task.distractors(true, 3, pool, rng)
        keys = [label_key(x) for x in d]
        assert len(d) == 3 and len(set(keys)) == 3
        assert "left+forward" not in keys
        assert not any(set(x) < set(true) for x in d)  # "left" alone would be partly true


def test_distractors_fall_back_to_vocabulary():
    task = get_task("4dpqa", "object_rotation")
    d = task.distractors("clockwise", 2, {}, np.random.default_rng(0))
    assert sorted(d) == ["counterclockwise", "none"]


def test_distractor_frequencies_follow_the_pool():
    # a label offered as distractor about as often as it is an answer: blind text priors learn nothing
    task = get_task("4dpqa", "object_direction")
    pool = {"left": 10, "right": 10, "towards": 10, "away": 10, "static": 10}
    rng = np.random.default_rng(0)
    seen = Counter()
    for i in range(3000):
        true = list(pool)[i % 5]
        for d in task.distractors([true], 3, pool, rng):
            seen[label_key(d)] += 1
    share = np.array(list(seen.values())) / sum(seen.values())
    assert np.abs(share - 0.2).max() < 0.02
