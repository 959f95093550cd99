#!/usr/bin/env python
"""Scaling of `--executor local|ray` on this machine: wall time and CPU time of whole commands.

One command reproduces the table of docs/scale.md ("Measured scaling"), Markdown on stdout:

    PYTHONPATH=src .venv/bin/python scripts/bench_executor.py [--repeat 3]

Runs, each as a fresh process into a fresh directory:
  simulate   --workers 1, --workers 2, --executor ray            (--scenes x --frames at --size px)
  eval       a CPU-bound python: model (about --work-ms of NumPy per item, calibrated on CPU time)
             with --concurrency 1, --concurrency 2 (threads), --executor ray
The Ray runs join a running local Ray with 2 CPUs (started once by this script, as a cluster
would be); `ray.init(); ray.shutdown()` alone is timed too: the start-up a run without
--ray-address pays on top. With --repeat N the runs go round-robin N times (so a change of load
hits every configuration alike) and the table gives medians. CPU time is the user + system time
of the command (and the processes it waited for) plus, for Ray runs, what the cluster's processes
(GCS, raylet, workers) used meanwhile (from /proc, Linux only). The load average is recorded
before and after each command: on a busy machine the wall times (and so the speed-ups) mean
little; the CPU times hold up better. Every output is compared byte for byte with the one-worker
run's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import filecmp
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from machine import machine_line  # scripts/machine.py

ROOT = Path(__file__).resolve().parents[1]

MODEL = '''
import zlib
import numpy as np
WORK_MS = {work_ms}
def answer(prompt, images, item):
    # deterministic CPU work of about WORK_MS milliseconds (calibrated below), then an answer
    a = np.random.default_rng(zlib.crc32(item.id.encode())).random((64, 64))
    for _ in range(REPS):
        a = np.linalg.qr(a)[0]
    return "Answer: " + (min(item.options) if item.options else "yes")

def _calibrate():
    import time
    a = np.random.default_rng(0).random((64, 64))
    for _ in range(50):        # warm-up: the first calls are slower and would shrink the work
        a = np.linalg.qr(a)[0]
    t0 = time.process_time()   # CPU time: a busy machine must not shrink the work
    for _ in range(200):
        a = np.linalg.qr(a)[0]
    return max(1, int(WORK_MS / 1000 / ((time.process_time() - t0) / 200)))
REPS = _calibrate()
'''


HOLDER = """
import sys, ray
ctx = ray.init(num_cpus=2, include_dashboard=False)
print(ctx.address_info["gcs_address"], flush=True)
sys.stdin.read()   # until the script closes stdin
ray.shutdown()
"""


def tree_times(root: int) -> dict[tuple[int, int], float]:
    """CPU seconds used so far by every live descendant of `root`, keyed by (pid, start time)."""
    tick = os.sysconf("SC_CLK_TCK")
    table: dict[int, tuple[int, int, float]] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                f = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            table[int(d.name)] = (int(f[1]), int(f[19]), (int(f[11]) + int(f[12])) / tick)  # ppid, start, CPU
    return {(pid, start): cpu for pid, (_, start, cpu) in descendants(root, table).items()}


def descendants(root: int, table: dict[int, tuple]) -> dict[int, tuple]:
    """The entries of `table` (pid -> (parent pid, ...)) of every descendant of `root`."""
    kids: dict[int, list[int]] = {}
    for pid, row in table.items():
        kids.setdefault(row[0], []).append(pid)
    out, stack = {}, list(kids.get(root, []))
    while stack:
        pid = stack.pop()
        out[pid] = table[pid]
        stack.extend(kids.get(pid, []))
    return out


class ClusterCPU:
    """CPU the cluster's processes use while a command runs: /proc sampled every 0.2 s (a process
    that exits between two samples loses at most its last 0.2 s)."""

    def __init__(self, root: int):
        self.root, self.first, self.last = root, tree_times(root), {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while not self.stop.wait(0.2):
            self.last.update(tree_times(self.root))

    def seconds(self) -> float:
        self.stop.set()
        self.thread.join()
        self.last.update(tree_times(self.root))
        return sum(v - self.first.get(k, 0.0) for k, v in self.last.items())


def timed(cmd: list[str], env: dict[str, str], cluster: int | None = None) -> dict[str, float]:
    """Wall and CPU seconds of one command (plus the cluster's CPU meanwhile), load before and after."""
    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    watch = ClusterCPU(cluster) if cluster else None
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - t0
    cluster_cpu = watch.seconds() if watch else 0.0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 3):
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime) + cluster_cpu
    m = {"wall": wall, "cpu": cpu, "load0": load0, "load1": os.getloadavg()[0]}
    print(f"  {' '.join(cmd[2:4])} ... {' '.join(cmd[-2:])}: wall {wall:.1f} s, CPU {cpu:.1f} s, "
          f"load {m['load0']:.1f} -> {m['load1']:.1f}", file=sys.stderr, flush=True)   # progress
    return m


def same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return not mismatch and not errors and all(same_tree(a / d, b / d) for d in cmp.common_dirs)


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def row(name: str, ms: list[dict[str, float]], base: list[dict[str, float]] | None) -> str:
    """One table row: medians over the repeats, wall speed-up and CPU ratio against `base`."""
    wall, cpu = median([m["wall"] for m in ms]), median([m["cpu"] for m in ms])
    speed = f"{median([m['wall'] for m in base]) / wall:.2f}x" if base else ""
    ratio = f"{cpu / median([m['cpu'] for m in base]):.2f}" if base else ""
    loads = [m["load0"] for m in ms] + [m["load1"] for m in ms]
    return (f"| {name} | {len(ms)} | {wall:.1f} | {cpu:.1f} | {speed} | {ratio} | "
            f"{min(loads):.1f}-{max(loads):.1f} |")


HEADER = ("| run | runs | wall s (median) | CPU s (median) | speed-up, wall | CPU vs 1 worker | load average |\n"
          "|---|---:|---:|---:|---:|---:|---|")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", type=int, default=16)
    ap.add_argument("--frames", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--items", type=int, default=48)
    ap.add_argument("--work-ms", type=float, default=100.0)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each configuration (medians; default 1)")
    ap.add_argument("--only", choices=["simulate", "eval"], help="run one verb's rows only")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    # Ray >= 2.5x starts local clusters with token authentication (token in ~/.ray/auth_token); the
    # commands that join the script's cluster need the same mode
    env.setdefault("RAY_AUTH_MODE", "token")
    qa4d = [sys.executable, "-m", "qa4d.cli"]
    print(f"# {machine_line()}, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"# {' '.join(sys.argv[1:]) or '(defaults)'}: simulate {args.scenes} scenes x {args.frames} frames at "
          f"{args.size} px; eval {args.items} items of ~{args.work_ms:.0f} ms CPU; {args.repeat} run(s) each\n")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    address = holder.stdout.readline().strip()
    try:
        return _runs(args, env, qa4d, address, holder.pid)
    finally:
        holder.stdin.close()
        holder.wait(120)


def _round_robin(configs: dict[str, list[str]], repeat: int, run) -> dict[str, list[dict[str, float]]]:
    """`run(name, extra, k)` for every configuration, round-robin `repeat` times."""
    out: dict[str, list[dict[str, float]]] = {name: [] for name in configs}
    for k in range(repeat):
        for name, extra in configs.items():
            out[name].append(run(name, extra, k))
    return out


def _runs(args: argparse.Namespace, env: dict[str, str], qa4d: list[str], address: str, cluster: int) -> int:
    ray = ["--executor", "ray", "--ray-address", address]
    lines: list[str] = []
    notes: list[str] = []
    same: dict[str, bool] = {}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        start = [timed([sys.executable, "-c", "import ray; ray.init(include_dashboard=False); ray.shutdown()"], env)
                 for _ in range(args.repeat)]
        lines.append(row("`ray.init()` + shutdown alone (a local Ray's start-up)", start, None))
        if args.only in (None, "simulate"):
            _simulate_rows(args, t, qa4d, ray, env, cluster, lines, notes, same)
        if args.only in (None, "eval"):
            _eval_rows(args, t, qa4d, ray, env, cluster, lines, notes, same)
    print(HEADER)
    print("\n".join(lines))
    print()
    print("\n".join(notes))
    print("outputs identical to the one-worker run's, every run (eval with threads: the same lines): "
          + ", ".join(f"{k} {v}" for k, v in same.items()))
    return 0 if all(same.values()) else 1


def _simulate_rows(args, t: Path, qa4d: list[str], ray: list[str], env: dict[str, str], cluster: int,
                   lines: list[str], notes: list[str], same: dict[str, bool]) -> None:
    sim = ["simulate", "--scenes", str(args.scenes), "--frames", str(args.frames), "--size", str(args.size)]

    def simulate(name: str, extra: list[str], k: int) -> dict[str, float]:
        out = t / f"sim_{name}_{k}"
        m = timed(qa4d + sim + ["--out", str(out), *extra], env, cluster if name == "ray" else None)
        m["same"] = same_tree(t / "sim_w1_0", out)
        if k or name != "w1":
            shutil.rmtree(out)
        return m

    runs = _round_robin({"w1": ["--workers", "1"], "w2": ["--workers", "2"], "ray": ray}, args.repeat, simulate)
    label = f"simulate {args.scenes} scenes x {args.frames} frames, {args.size} px"
    for name, what in (("w1", "--workers 1"), ("w2", "--workers 2"), ("ray", "--executor ray (2 CPUs)")):
        lines.append(row(f"{label}, {what}", runs[name], runs["w1"]))
        same[f"simulate {what}"] = all(m["same"] for m in runs[name])
    frames = args.scenes * args.frames
    notes.append(f"simulate: {frames / median([m['cpu'] for m in runs['w1']]):.1f} frames per CPU second with "
                 f"1 worker, {frames / median([m['cpu'] for m in runs['ray']]):.1f} on Ray")


def _eval_rows(args, t: Path, qa4d: list[str], ray: list[str], env: dict[str, str], cluster: int,
               lines: list[str], notes: list[str], same: dict[str, bool]) -> None:
    sys.path.insert(0, str(ROOT))
    from tests.bench.tiny_bench import write_split  # the tests' tiny qa4d split

    write_split(t / "ds", "bench", args.items, seed=0)
    (t / "model.py").write_text(MODEL.format(work_ms=args.work_ms))
    ev = ["eval", "--benchmark", str(t / "ds" / "bench"), "--model", f"python:{t / 'model.py'}:answer",
          "--frames", "2", "--no-score"]

    def evaluate(name: str, extra: list[str], k: int) -> dict[str, float]:
        out = t / f"ev_{name}_{k}"
        m = timed(qa4d + ev + ["--out", str(out), *extra], env, cluster if name == "ray" else None)
        got, want = (out / "predictions.jsonl").read_bytes(), (t / "ev_c1_0" / "predictions.jsonl").read_bytes()
        # threads append answers as they arrive: the same lines, not always in item order
        m["same"] = got == want if name != "c2" else sorted(got.splitlines()) == sorted(want.splitlines())
        return m

    runs = _round_robin({"c1": ["--concurrency", "1"], "c2": ["--concurrency", "2"], "ray": ray}, args.repeat,
                        evaluate)
    label = f"eval {args.items} items, ~{args.work_ms:.0f} ms CPU each"
    for name, what in (("c1", "--concurrency 1"), ("c2", "--concurrency 2 (threads)"),
                       ("ray", "--executor ray (2 CPUs)")):
        lines.append(row(f"{label}, {what}", runs[name], runs["c1"]))
        same[f"eval {what}"] = all(m["same"] for m in runs[name])
    per_item = [(r["cpu"] - c["cpu"]) / args.items for r, c in zip(runs["ray"], runs["c1"])]
    notes.append(f"eval: Ray's extra CPU {1000 * median(per_item):.0f} ms per item (median over runs)")


if __name__ == "__main__":
    sys.exit(main())
