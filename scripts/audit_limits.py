"""What `qa4d audit` can detect at a given size: the figures of docs/engine.md ("What the audit can
and cannot detect"), from the exact binomial test and Holm's correction (no simulation).

For a task with n bench items and chance c (1/2 for yes/no and 2-option mc, 1/4 for 4-option mc,
1/5 for 5-option mc: STI, TimeBench and their numeric-rank baseline),
and a family of m tests (Holm's first, strictest step tests at alpha / m):
- flagged at: the smallest observed accuracy above chance the test calls significant;
- found 80%: the smallest true accuracy above chance that is significant with probability 0.8;
- the effect-size rule adds: never a failure at 5 points or less above chance.
Also: the items a task needs before an observed 5-point excess can be significant (the size at
which the effect-size rule starts to matter), and the items needed to find a word planted on every
correct option (the two-sided option-word test: 2 c^n <= alpha / m).

    python scripts/audit_limits.py [--alpha 0.01] [--family 60 300]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from machine import machine_line  # noqa: E402

from qa4d.engine.audit_stats import detectable_excess, excess_for_power, resolving_size  # noqa: E402

SIZES = (20, 50, 100, 300, 1000)
CHANCES = ((2, 0.5), (4, 0.25), (5, 0.2))


def pts(x: float | None) -> str:
    return "none" if x is None else f"+{100 * x:.1f}"


def table(alpha: float, m: int) -> list[str]:
    level = alpha / m
    head = "| bench items per task | " + " | ".join(f"{k} options: flagged at | {k} options: found 80%" for k, _ in CHANCES) + " |"
    lines = [f"Family of m = {m} tests (first Holm step at {alpha:g} / {m} = {level:.2g}); points above chance:", "",
             head, "|---:|" + "---:|" * (2 * len(CHANCES))]
    for n in SIZES:
        cells = []
        for _, c in CHANCES:
            cells += [pts(detectable_excess(n, c, level)), pts(excess_for_power(n, c, level, 0.8))]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    res = ", ".join(f"{k} options {resolving_size(c, level)}" for k, c in CHANCES)
    words = ", ".join(f"{k} options {math.ceil(math.log(level / 2) / math.log(1 / k))}" for k in (2, 3, 4, 5))
    lines += ["", f"Items before an observed 5-point excess can be significant: {res}.",
              f"Items (train + bench) before a word on every correct option is found: {words}.", ""]
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--family", type=int, nargs="+", default=[75, 1000], help="family sizes m after the screen")
    args = ap.parse_args()
    print(f"{time.strftime('%Y-%m-%d', time.gmtime())}, {machine_line()}")
    print()
    for m in args.family:
        print("\n".join(table(args.alpha, m)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
