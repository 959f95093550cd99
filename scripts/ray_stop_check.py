#!/usr/bin/env python
"""What a stopped `qa4d simulate --executor ray` leaves behind when it started its own local Ray.

For Ctrl-C (SIGINT to the command's process group, as a terminal sends it) and for kill -9 of
the command: start the command without --ray-address (so it starts a local Ray), stop it once a
scene is written, then list the processes it had started (found in /proc while it ran) that are
still alive, every second, until none is left (or --wait seconds). Then the same command runs to
the end and its scenes are compared byte for byte with a local run's. Prints a Markdown table;
docs/scale.md ("Limits") quotes it. Linux only. The processes still alive at the end of --wait
are killed (by pid; they were started by this script's command).

    PYTHONPATH=src .venv/bin/python scripts/ray_stop_check.py [--wait 120]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_executor import descendants, same_tree  # scripts/bench_executor.py
from machine import machine_line  # scripts/machine.py

ROOT = Path(__file__).resolve().parents[1]
SIM = ["--scenes", "6", "--frames", "6", "--size", "64", "--seed", "7", "--tracks-per-object", "8",
       "--background-tracks", "16"]


def processes() -> dict[int, tuple[int, int, str]]:
    """pid -> (parent pid, start time, name) of every process (a zombie's name is '')."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                head, tail = (d / "stat").read_text().rsplit(")", 1)
                f = tail.split()
                name = (d / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
            except OSError:
                continue
            out[int(d.name)] = (int(f[1]), int(f[19]), os.path.basename(name.split(" ")[0]) if name else "")
    return out


def alive(started: dict[int, tuple[int, int, str]]) -> list[str]:
    now = processes()
    return sorted(v[2] for pid, v in started.items() if pid in now and now[pid][1] == v[1] and now[pid][2])


def stop_once(sig: int, out: Path, env: dict[str, str], wait: float) -> tuple[int, float, list[tuple[float, list[str]]]]:
    """(exit code, seconds from the signal to the command's end, [(seconds, processes alive)])."""
    cmd = [sys.executable, "-m", "qa4d.cli", "simulate", "--out", str(out), *SIM, "--executor", "ray"]
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    started: dict[int, tuple[int, int, str]] = {}
    while proc.poll() is None and not (out.is_dir() and any(p.name.startswith("sim7_") for p in out.iterdir())):
        started.update(descendants(proc.pid, processes()))
        time.sleep(0.1)
    started.update(descendants(proc.pid, processes()))
    t0 = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, signal.SIGINT)
    else:
        proc.send_signal(sig)
    code = proc.wait()
    ended = time.monotonic() - t0
    seen = []
    while True:
        left = alive(started)
        if not seen or left != seen[-1][1]:
            seen.append((time.monotonic() - t0, left))
        if not left or time.monotonic() - t0 > wait:
            break
        time.sleep(1)
    now = processes()
    for pid, v in started.items():   # what --wait did not see end
        if pid in now and now[pid][1] == v[1]:
            os.kill(pid, signal.SIGKILL)
    return code, ended, seen


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--wait", type=float, default=120.0, help="seconds to watch for leftovers (default 120)")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    env.pop("RAY_ADDRESS", None)
    # a command started while SIGINT is ignored (this script run as a background job) would ignore
    # Ctrl-C too: the commands get Python's default handler
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"# {machine_line()}, Ray {ray_version()}")
    print("| stop | exit code | command ended after | processes it started still alive (seconds after the signal) "
          "| resumed = local run |\n|---|---:|---:|---|---|")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        subprocess.run([sys.executable, "-m", "qa4d.cli", "simulate", "--out", str(t / "local"), *SIM], env=env,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for name, sig in (("Ctrl-C", signal.SIGINT), ("kill -9", signal.SIGKILL)):
            out = t / name.replace(" ", "")
            code, ended, seen = stop_once(sig, out, env, args.wait)
            trail = "; ".join(f"{s:.0f} s: {', '.join(left) or 'none'}" for s, left in seen)
            subprocess.run([sys.executable, "-m", "qa4d.cli", "simulate", "--out", str(out), *SIM, "--executor", "ray"],
                           env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            same = same_tree(t / "local", out)
            ok &= same
            print(f"| {name} | {code} | {ended:.1f} s | {trail} | {same} |")
    return 0 if ok else 1


def ray_version() -> str:
    import ray

    return ray.__version__


if __name__ == "__main__":
    sys.exit(main())
