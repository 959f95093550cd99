"""Answer balancing: which candidates become samples, in which answer format, with which option
position (mc) or truth value (yes/no). All deterministic for a given generator.

Why each step exists:
- `balance` keeps every label equally often per task and split, so a model (or a blind prior)
  gains nothing from guessing the most common label;
- `assign_formats` spreads formats evenly within each label, so no format is tied to a label;
- `assign_choices` cycles the correct mc position through A, B, C, D and alternates yes/no, so
  neither letter nor yes/no frequency carries information.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np


def group_by_key(cands: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in sorted(cands, key=lambda c: c["uid"]):
        groups.setdefault(c["key"], []).append(c)
    return dict(sorted(groups.items()))


def balance(
    cands: Sequence[dict[str, Any]], rng: np.random.Generator, mode: str = "equal", min_share: float = 0.25,
    cap_factor: float = 2.0,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Limit how often each label (`key`) occurs, per task and split.

    mode "equal" (labels that are answers: descriptive tasks): labels with fewer than `min_share`
    x the median label count are dropped first (one rare label would otherwise cap all others at
    its count); then every label is cut to the smallest remaining count by a random selection.
    mode "cap" (keys that only describe the answer, e.g. the winning object's category in
    comparisons): no key may exceed `cap_factor` x the median key count.
    mode "none": everything is kept. Returns (kept sorted by uid, drop reasons with counts).
    """
    groups = group_by_key(cands)
    dropped: dict[str, int] = {}
    if mode == "none" or len(groups) <= 1:
        return sorted(cands, key=lambda c: c["uid"]), dropped
    sizes = np.array([len(g) for g in groups.values()])
    if mode == "cap":
        keep = groups
        cap = max(1, int(np.ceil(cap_factor * float(np.median(sizes)))))
    elif mode == "equal":
        floor = min_share * float(np.median(sizes))
        keep = {k: g for k, g in groups.items() if len(g) >= floor}
        if len(keep) < 2:
            keep = groups
        for k, g in groups.items():
            if k not in keep:
                dropped["label too rare to balance"] = dropped.get("label too rare to balance", 0) + len(g)
        cap = min(len(g) for g in keep.values())
    else:
        raise ValueError(f"balance: unknown mode {mode!r}")
    out = []
    for k, g in keep.items():
        idx = rng.permutation(len(g))[: min(cap, len(g))]
        out.extend(g[int(i)] for i in sorted(idx))
        if len(g) > cap:
            dropped["label cut to balance labels"] = dropped.get("label cut to balance labels", 0) + len(g) - cap
    return sorted(out, key=lambda c: c["uid"]), dropped


def assign_formats(
    cands: Sequence[dict[str, Any]],
    allowed: Callable[[dict[str, Any]], Sequence[str]],
    weights: dict[str, float],
    rng: np.random.Generator,
) -> list[tuple[dict[str, Any], str]]:
    """Give each candidate an answer format among `allowed(cand)`, in proportion to `weights`,
    label by label: within a label the format with the largest deficit (weight x seen - used) is
    taken, so every label gets the format mix. Formats outside `weights` are used only when a
    candidate allows nothing else (tracking: "track"). Candidates allowing nothing are dropped.
    """
    out = []
    seen_all = 0
    used_all: dict[str, float] = {}
    for key, group in group_by_key(cands).items():
        used: dict[str, float] = {}
        order = rng.permutation(len(group))
        for n, i in enumerate(order):
            c = group[int(i)]
            options = [f for f in allowed(c) if weights.get(f, 0) > 0]
            if not options:
                options = [f for f in allowed(c) if f not in weights]
                if not options:
                    continue
                out.append((c, options[0]))
                continue
            total = sum(weights[f] for f in options)
            seen_all += 1
            # the label's own deficit first; ties (small labels) by the deficit over all labels
            deficit = {f: (weights[f] / total * (n + 1) - used.get(f, 0.0),
                           weights[f] / total * seen_all - used_all.get(f, 0.0)) for f in options}
            fmt = max(sorted(options), key=lambda f: deficit[f])
            used[fmt] = used.get(fmt, 0.0) + 1
            used_all[fmt] = used_all.get(fmt, 0.0) + 1
            out.append((c, fmt))
    return sorted(out, key=lambda cf: cf[0]["uid"])


def assign_choices(
    items: Sequence[tuple[dict[str, Any], str]], n_options: Callable[[dict[str, Any]], int], rng: np.random.Generator
) -> list[tuple[dict[str, Any], str, Any]]:
    """Correct option position (mc) or truth (yes/no) for each (candidate, format).

    mc: candidates in random order take positions 0, 1, 2, ... cyclically (modulo their number of
    options), from a random start, so positions are used equally often (+-1).
    yes/no: candidates grouped by label, random order within a label, then alternately True /
    False from a random start: equal overall (+-1) and nearly equal within each label.
    Others get None.
    """
    mc = [i for i, (_, f) in enumerate(items) if f == "mc"]
    yn = [i for i, (_, f) in enumerate(items) if f == "yesno"]
    choice: dict[int, Any] = {}
    start = int(rng.integers(4))
    for n, i in enumerate(rng.permutation(mc) if mc else []):
        choice[int(i)] = (start + n) % n_options(items[int(i)][0])
    by_key: dict[str, list[int]] = {}
    for i in yn:
        by_key.setdefault(items[i][0]["key"], []).append(i)
    seq: list[int] = []
    for key in sorted(by_key):
        g = by_key[key]
        seq.extend(g[int(j)] for j in rng.permutation(len(g)))
    flip = bool(rng.integers(2))
    for n, i in enumerate(seq):
        choice[i] = ((n % 2) == 0) != flip
    return [(c, f, choice.get(i)) for i, (c, f) in enumerate(items)]
