#!/usr/bin/env python
"""Cross-check qa4d.geometry.sample_balanced_pairs against MultiSPA's Listing 1 run with pandas.

MultiSPA's sampler groups pairs with pandas.cut + groupby on the categorical bins. Under
pandas 2.2.3 (the version MultiSPA pins) that iteration yields every bin, empty ones included,
which changes the quota split; qa4d reproduces this with count_empty_bins=True. This script
re-implements Listing 1 with pandas and compares the per-bin counts and the leftover on random
long-tailed overlap lists (which rows are drawn is random in both and is not compared).
pandas is not a qa4d dependency: install it somewhere else first, e.g.

    pip install --target /tmp/pd pandas==2.2.3
    PYTHONPATH=src:/tmp/pd .venv/bin/python scripts/crosscheck_pair_sampling_pandas.py
"""

from __future__ import annotations

import sys
import warnings

import numpy as np

from qa4d.geometry.pairs import overlap_bins, overlap_edges, sample_balanced_pairs


def listing1_counts(pd, x: np.ndarray, total: int):
    """Per-bin counts and leftover of Listing 1 (pandas), or None when no bin was formed."""
    df = pd.DataFrame({"overlap": x})
    rem = df[df.overlap != 0].copy()
    rem["g"] = pd.cut(rem["overlap"], bins=overlap_edges(), include_lowest=True)
    rem = rem.dropna(subset=["g"])
    groups = [g for _, g in rem.groupby("g")]
    if not groups:
        return None
    n = len(groups)
    quotas = [total // n + (1 if i < total % n else 0) for i in range(n)]
    order = sorted(range(n), key=lambda i: len(groups[i]))
    taken, left = [], 0
    for i in order:
        current = quotas[i] + left
        if len(groups[i]) <= current:
            taken.append(groups[i])
            left = current - len(groups[i])
        else:
            taken.append(groups[i].sample(n=current))
            left = 0
    got = pd.concat(taken).overlap.to_numpy()
    return np.bincount(overlap_bins(got, overlap_edges()), minlength=29), left


def main() -> int:
    try:
        import pandas as pd
    except ImportError:
        print("pandas is not installed; see the docstring", file=sys.stderr)
        return 2
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    bad = 0
    trials = 300
    for trial in range(trials):
        n = int(rng.integers(0, 400))
        x = np.round(rng.exponential(8, n), int(rng.integers(0, 3)))  # long tail, some exact edges
        x[rng.random(n) < 0.1] = 0
        total = int(rng.integers(0, 500))
        ref = listing1_counts(pd, x, total)
        s = sample_balanced_pairs(x, total, np.random.default_rng(trial), count_empty_bins=True)
        mine = np.bincount(s.bins[s.bins >= 0], minlength=29)
        ok = mine.sum() == 0 if ref is None else (np.array_equal(ref[0], mine) and ref[1] == s.leftover)
        bad += not ok
    print(f"pandas {pd.__version__}: {trials} random cases, {bad} mismatches")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
