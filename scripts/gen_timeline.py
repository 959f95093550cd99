#!/usr/bin/env python
"""Where a `qa4d generate --workers N` run spends its wall time: a timeline of the command and of
each worker, as text (and a PNG with --png).

Runs `qa4d generate` as a child process (PYTHONPATH=SRC) in which the steps of the run and the
per-scene jobs are wrapped to record their wall start and end (time.time()) and their CPU time;
forked workers inherit the wrappers and write their events to a scratch directory. The command's
steps are the functions of qa4d.engine.generate named in COMMAND_STEPS (those absent from a
version are skipped, so an older src/ tree can be drawn too); the jobs are `_phase1` and
`_phase2`. "start-up" is from the moment the script starts the child to the first line of the
child's code (the interpreter), "imports" from there to the call of the verb (qa4d.cli and the
verb's module imported, arguments parsed).

    python scripts/gen_timeline.py --scenes S [--workers 2] [--src OLD/src] [--png docs/x.png]

Prints one row per process (a character per 50 ms: the letter of the step or job phase, '.' idle),
the steps' wall and CPU seconds, per worker the busy time per phase and the idle time at each
barrier (between its last job of a phase and the end of that phase, over all workers).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402  (scripts/machine.py)

COMMAND_STEPS = ["_settings", "scene_dirs", "_start", "make_executor", "_warm_up", "_run_phase1", "_valid_scenes",
                 "split_scenes", "_gather", "gather", "_plan", "plan", "_phase2_jobs", "_run_phase2", "_dataset_info",
                 "dataset_info", "write_json"]
JOBS = ["_phase1", "_phase2"]

CHILD = r"""
import json, os, resource, sys, time
T0 = time.time()
EV = sys.argv[1]
def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
def emit(name, t0, t1, c0, c1):
    line = json.dumps({"pid": os.getpid(), "name": name, "t0": t0, "t1": t1, "cpu": c1 - c0}) + "\n"
    fd = os.open(os.path.join(EV, f"{os.getpid()}.jsonl"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.write(fd, line.encode())
    os.close(fd)
def wrap(mod, name, label):
    fn = getattr(mod, name, None)
    if fn is None or getattr(fn, "_timed", False):
        return
    def timed(*a, **k):
        t0, c0 = time.time(), cpu()
        try:
            return fn(*a, **k)
        finally:
            emit(label, t0, time.time(), c0, cpu())
    timed._timed = True
    timed.__name__, timed.__qualname__, timed.__module__ = fn.__name__, fn.__qualname__, fn.__module__
    setattr(mod, name, timed)
    home = sys.modules.get(fn.__module__)
    if home is not None and getattr(home, fn.__name__, None) is fn:  # pickled by its home module's name
        setattr(home, fn.__name__, timed)
c0 = cpu()
import qa4d.cli as cli
import qa4d.engine.generate  # noqa
import qa4d.engine.cli  # noqa
import qa4d.engine.generate as gen
for n in json.loads(sys.argv[2]):
    wrap(gen, n, n)
for n in json.loads(sys.argv[3]):
    wrap(gen, n, "job" + n)
real_run = qa4d.engine.cli.run
def run(args):
    emit("imports", T0, time.time(), c0, cpu())
    return real_run(args)
parser = cli.build_parser("generate")
args = parser.parse_args(sys.argv[4:])
code = run(args)
ru = resource.getrusage(resource.RUSAGE_SELF)
emit("end", time.time(), time.time(), 0.0, 0.0)
sys.exit(code)
"""


def run_timeline(src: Path, scenes: str, out: Path, workers: int, seed: int, extra: list[str]) -> dict:
    ev = Path(tempfile.mkdtemp(prefix="qa4d_timeline_"))
    env = {**os.environ, "PYTHONPATH": str(src)}
    argv = ["generate", "--scenes", scenes, "--out", str(out), "--seed", str(seed), "--bench-fraction", "0.3",
            "--workers", str(workers), *extra]
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ev), json.dumps(COMMAND_STEPS), json.dumps(JOBS), *argv],
                          env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    end = time.time()
    if proc.returncode != 0:
        raise SystemExit(proc.stderr.decode()[-2000:])
    events = [json.loads(line) for f in sorted(ev.glob("*.jsonl")) for line in f.read_text().splitlines()]
    return {"start": start, "end": end, "events": events, "pid": next(e["pid"] for e in events if e["name"] == "imports")}


def summarise(tl: dict, tick: float = 0.05) -> list[str]:
    start, end, evs, cmd = tl["start"], tl["end"], tl["events"], tl["pid"]
    first_child = min(e["t0"] for e in evs if e["name"] == "imports")
    rows = {"command": [" "] * int((end - start) / tick + 1)}
    letters = {"imports": "i", "_settings": "s", "scene_dirs": "d", "_start": "t", "make_executor": "x", "_warm_up": "w",
               "_run_phase1": "1", "_valid_scenes": "v", "split_scenes": "p", "_gather": "g", "gather": "g", "_plan": "b", "plan": "b",
               "_phase2_jobs": "j", "_run_phase2": "2", "_dataset_info": "n", "dataset_info": "n", "write_json": "o",
               "job_phase1": "A", "job_phase2": "B"}
    out = []

    def paint(row, t0, t1, ch):
        for k in range(int((t0 - start) / tick), int((t1 - start) / tick) + 1):
            if 0 <= k < len(row) and (row[k] in " ." or ch.isupper() or row[k] in "12"):
                row[k] = ch

    paint(rows["command"], start, first_child, "^")
    workers = sorted({e["pid"] for e in evs if e["pid"] != cmd})
    for w in workers:
        rows[f"worker {w}"] = ["."] * len(rows["command"])
    steps = {}
    for e in sorted(evs, key=lambda e: e["t0"]):
        if e["name"] == "end":
            continue
        row = rows["command"] if e["pid"] == cmd else rows[f"worker {e['pid']}"]
        paint(row, e["t0"], e["t1"], letters.get(e["name"], "?"))
        if e["pid"] == cmd:
            s = steps.setdefault(e["name"], [0.0, 0.0, 0])
            s[0] += e["t1"] - e["t0"]
            s[1] += e["cpu"]
            s[2] += 1
    out.append(f"wall {end - start:.2f} s; one column = {tick * 1000:.0f} ms; '^' interpreter start-up; "
               "letters: " + ", ".join(f"{v} {k}" for k, v in letters.items()))
    for name, row in rows.items():
        out.append(f"{name:>14} |{''.join(row)}|")
    out.append(f"interpreter start-up (until the child's first line): {first_child - start:.2f} s wall")
    for name, (wall, c, n) in steps.items():
        out.append(f"  command {name:<14} wall {wall:6.3f} s  cpu {c:6.3f} s" + (f"  ({n} calls)" if n > 1 else ""))
    phase_end = {}
    for ph in ("job_phase1", "job_phase2"):
        js = [e for e in evs if e["name"] == ph]
        if js:
            phase_end[ph] = (min(e["t0"] for e in js), max(e["t1"] for e in js))
    for w in workers:
        parts = []
        for ph, (p0, p1) in phase_end.items():
            js = [e for e in evs if e["pid"] == w and e["name"] == ph]
            busy = sum(e["t1"] - e["t0"] for e in js)
            c = sum(e["cpu"] for e in js)
            last = max((e["t1"] for e in js), default=p0)
            parts.append(f"{ph[4:]}: {len(js)} jobs, busy {busy:.2f} s wall / {c:.2f} s cpu, idle at the barrier {p1 - last:.2f} s")
        out.append(f"  worker {w}: " + "; ".join(parts))
    for ph, (p0, p1) in phase_end.items():
        out.append(f"  {ph[4:]} spans {p1 - p0:.2f} s wall ({p0 - start:.2f}-{p1 - start:.2f} s)")
    out.extend(idle_estimate(tl, max(1, len(workers))))
    return out


def makespan(costs: list[float], n: int) -> float:
    """Wall time of jobs with these CPU costs, started in this order on n idle workers (each job
    goes to the worker that is free first): list scheduling, as the pool does it."""
    free = [0.0] * n
    for c in costs:
        k = free.index(min(free))
        free[k] += c
    return max(free)


def idle_estimate(tl: dict, n: int) -> list[str]:
    """What the run would take on an idle machine, from CPU times only (so it holds on a shared
    machine): the command's CPU outside the phases (the interpreter's start-up counted as its
    wall), and each phase as the makespan of its jobs' CPU times in the order they started."""
    evs, cmd = tl["events"], tl["pid"]
    first_child = min(e["t0"] for e in evs if e["name"] == "imports")
    total_cmd = sum(e["cpu"] for e in evs if e["pid"] == cmd and e["name"] == "imports")
    in_phases = {"_run_phase1", "_run_phase2"}
    steps = sum(e["cpu"] for e in evs if e["pid"] == cmd and e["name"] not in in_phases | {"imports", "end"}
                and not e["name"].startswith("job"))
    waits = sum(e["cpu"] for e in evs if e["pid"] == cmd and e["name"] in in_phases)
    spans = []
    for ph in ("job_phase1", "job_phase2"):
        js = sorted((e for e in evs if e["name"] == ph), key=lambda e: e["t0"])
        spans.append(makespan([e["cpu"] for e in js], len({e["pid"] for e in js}) or n))  # the phase's workers
    est = (first_child - tl["start"]) + total_cmd + steps + sum(spans)
    return [f"idle estimate from CPU times: start-up {first_child - tl['start']:.2f} + imports {total_cmd:.2f} + "
            f"other command steps {steps:.2f} + phase 1 {spans[0]:.2f} + phase 2 {spans[1]:.2f} = {est:.2f} s "
            f"(the command's CPU while it waits on the phases, {waits:.2f} s, overlaps them)"]


def draw_png(tl: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    start, evs, cmd = tl["start"], tl["events"], tl["pid"]
    workers = sorted({e["pid"] for e in evs if e["pid"] != cmd})
    lanes = {cmd: 0, **{w: i + 1 for i, w in enumerate(workers)}}
    colours = {"job_phase1": "tab:blue", "job_phase2": "tab:orange", "imports": "tab:gray", "_warm_up": "tab:purple",
               "_run_phase1": "#cfe2f3", "_run_phase2": "#fde9d9"}
    fig, ax = plt.subplots(figsize=(10, 1.6 + 0.6 * len(lanes)))
    first_child = min(e["t0"] for e in evs if e["name"] == "imports")
    ax.barh(0, first_child - start, left=0, color="black", height=0.6)
    for e in evs:
        if e["name"] == "end":
            continue
        lane = lanes[e["pid"]]
        c = colours.get(e["name"], "tab:green")
        h = 0.3 if e["name"] in ("_run_phase1", "_run_phase2") else 0.6
        ax.barh(lane, e["t1"] - e["t0"], left=e["t0"] - start, color=c, height=h, edgecolor="white", linewidth=0.3)
    ax.set_yticks(range(len(lanes)), ["command"] + [f"worker {i + 1}" for i in range(len(workers))])
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the command started")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color="black", label="interpreter start-up"), Patch(color="tab:gray", label="imports, arguments"),
                       Patch(color="tab:purple", label="warm-up before fork"), Patch(color="tab:green", label="other command steps"),
                       Patch(color="tab:blue", label="phase 1 job (check + candidates)"),
                       Patch(color="tab:orange", label="phase 2 job (wording, media, validation)"),
                       Patch(color="#cfe2f3", label="command waits on phase 1"), Patch(color="#fde9d9", label="command waits on / appends phase 2")],
              fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=3)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    from qa4d._io import atomic_file

    with atomic_file(path) as f:
        fig.savefig(f, format="png", dpi=110, bbox_inches="tight")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", required=True)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--src", default=str(ROOT / "src"), help="src/ tree to run (default: this one)")
    ap.add_argument("--png", help="also draw the timeline into this PNG")
    ap.add_argument("--tick", type=float, default=0.05)
    args, extra = ap.parse_known_args()
    out = Path(tempfile.mkdtemp(prefix="qa4d_timeline_out_")) / "ds"
    tl = run_timeline(Path(args.src).resolve(), args.scenes, out, args.workers, args.seed, extra)
    print(f"qa4d generate --workers {args.workers} timeline  {time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, "
          f"src {args.src}")
    print(f"machine: {machine_line()}")
    for line in summarise(tl, args.tick):
        print(line)
    if args.png:
        draw_png(tl, Path(args.png), f"qa4d generate --workers {args.workers}, {args.scenes} "
                                     f"({time.strftime('%Y-%m-%d %H:%M', time.gmtime())} UTC, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
