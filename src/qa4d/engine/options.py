"""Answer balancing: which candidates become samples, in which answer format, with which option
position (mc) or truth value (yes/no). All deterministic for a given generator.

Why each step exists:
- `balance` keeps every label equally often per task and split, so a model (or a blind prior)
  gains nothing from guessing the most common label;
- `assign_formats` gives the split the weighted format mix and spreads formats evenly within
  each label, so no format is tied to a label;
- `assign_choices` cycles the correct mc position through A, B, C, D and alternates yes/no, so
  neither letter nor yes/no frequency carries information.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np


def group_by_key(cands: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in sorted(cands, key=lambda c: c["uid"]):
        groups.setdefault(c["key"], []).append(c)
    return dict(sorted(groups.items()))


def cap_balanced(cands: Sequence[dict[str, Any]], cap: int, rng: np.random.Generator) -> list[dict[str, Any]]:
    """At most `cap` candidates, taken round-robin over their keys (labels) in a random order
    within each key, so the label shares stay within one item of the input's balance.
    Returns the kept candidates sorted by uid."""
    groups = group_by_key(cands)
    queues = [[g[int(i)] for i in rng.permutation(len(g))] for _, g in sorted(groups.items())]
    out: list[dict[str, Any]] = []
    depth = 0
    while len(out) < cap and any(depth < len(q) for q in queues):
        out.extend(q[depth] for q in queues if depth < len(q))
        depth += 1
    return sorted(out[:cap], key=lambda c: c["uid"])


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
    mode "uniform" (answers over a fixed option set, keys "GROUP:LABEL", e.g. counts 0-3 per
    question wording): see `balance_uniform`.
    mode "none": everything is kept. Returns (kept sorted by uid, drop reasons with counts).
    """
    if mode == "uniform":
        return balance_uniform(cands, rng)
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


def split_key(key: str) -> tuple[str, str]:
    """("GROUP", "LABEL") of a key "GROUP:LABEL" (the last colon splits; no colon: group "")."""
    group, _, label = key.rpartition(":")
    return group, label


def balance_uniform(cands: Sequence[dict[str, Any]], rng: np.random.Generator) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Every group asks every label of the split equally often, or is dropped.

    Keys are "GROUP:LABEL". The labels are those of the whole input (the answers a fixed option
    set offers and the split has); a group that lacks one of them is dropped whole (it could not
    offer that option as an answer as often as the others), and every other group keeps the same
    number of candidates per label, its rarest label's count, chosen at random. So within each group
    (e.g. one question wording) the answer is uniform over the labels. Returns (kept sorted by uid,
    drop reasons with counts)."""
    by_group: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for key, g in group_by_key(cands).items():
        group, label = split_key(key)
        by_group.setdefault(group, {})[label] = g
    labels = sorted({label for g in by_group.values() for label in g})
    out: list[dict[str, Any]] = []
    dropped: dict[str, int] = {}
    for group, per_label in sorted(by_group.items()):
        if sorted(per_label) != labels:
            why = "group lacks an answer the others have (cannot be balanced)"
            dropped[why] = dropped.get(why, 0) + sum(len(g) for g in per_label.values())
            continue
        cap = min(len(g) for g in per_label.values())
        for label in labels:
            g = per_label[label]
            out.extend(g[int(i)] for i in sorted(rng.permutation(len(g))[:cap]))
            if len(g) > cap:
                dropped["label cut to balance labels"] = dropped.get("label cut to balance labels", 0) + len(g) - cap
    return sorted(out, key=lambda c: c["uid"]), dropped


def assign_formats(
    cands: Sequence[dict[str, Any]],
    allowed: Callable[[dict[str, Any]], Sequence[str]],
    weights: dict[str, float],
    rng: np.random.Generator,
    strict: bool = False,
) -> list[tuple[dict[str, Any], str]]:
    """Give each candidate an answer format among `allowed(cand)`, in proportion to `weights`.

    Overall, each candidate takes the allowed format furthest below its share so far (so the
    split's mix follows the weights within about one item, however small the labels); within a
    label no format may exceed ceil(share x label size), so every label gets the mix and no format
    is tied to a label. Candidates allowing fewer formats go first, so the flexible ones make up
    the mix around them. Formats outside `weights` are used only when a candidate allows nothing
    else (tracking: "track"). Candidates allowing nothing are dropped. With `strict`, candidates
    allowing a single format are also dropped (from the largest labels first) while there are more
    of them than that format's share of the split, so the mix holds (a benchmark protocol).
    """
    total = sum(w for w in weights.values() if w > 0)
    share = {f: w / total for f, w in weights.items() if w > 0} if total > 0 else {}
    groups = group_by_key(cands)
    entries = []  # (number of options, label, random rank in label): label by label, restricted first
    for n_key, (key, group) in enumerate(groups.items()):
        for r, i in enumerate(rng.permutation(len(group))):
            c = group[int(i)]
            options = [f for f in allowed(c) if f in share]
            entries.append((len(options), n_key, r, key, c, options))
    entries.sort(key=lambda e: e[:3])
    if strict:
        entries = _trim_single_format(entries, share)
    out = []
    seen_all = 0
    used_all: dict[str, int] = {}
    used: dict[str, dict[str, int]] = {key: {} for key in groups}
    seen: dict[str, int] = {key: 0 for key in groups}
    for _, _, _, key, c, options in entries:
        if not options:
            rest = [f for f in allowed(c) if f not in weights]
            if rest:
                out.append((c, rest[0]))
            continue
        n_label = len(groups[key])
        open_ = [f for f in options if used[key].get(f, 0) < math.ceil(share[f] * n_label - 1e-9)] or options
        seen_all += 1
        seen[key] += 1
        deficit = {f: (share[f] * seen_all - used_all.get(f, 0), share[f] * seen[key] - used[key].get(f, 0))
                   for f in open_}
        fmt = max(sorted(open_), key=lambda f: deficit[f])
        used[key][fmt] = used[key].get(fmt, 0) + 1
        used_all[fmt] = used_all.get(fmt, 0) + 1
        out.append((c, fmt))
    return sorted(out, key=lambda cf: cf[0]["uid"])


def _trim_single_format(entries: list[tuple], share: dict[str, float]) -> list[tuple]:
    """Drop entries (n_options, label index, rank, key, cand, options) that allow one weighted
    format only while that format's count of them exceeds its share of the weighted entries (+0.5)."""
    keep = list(entries)
    while True:
        n = sum(1 for e in keep if e[5])
        forced: dict[str, list[tuple]] = {}
        for e in keep:
            if len(e[5]) == 1:
                forced.setdefault(e[5][0], []).append(e)
        over = sorted((len(es) - share[f] * n, f) for f, es in forced.items() if len(es) > share[f] * n + 0.5)
        if not over:
            return keep
        es = forced[over[-1][1]]
        per_label: dict[str, int] = {}
        for e in es:
            per_label[e[3]] = per_label.get(e[3], 0) + 1
        victim = max(es, key=lambda e: (per_label[e[3]], e[2], -e[1]))  # largest label, last in its order
        keep.remove(victim)


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
