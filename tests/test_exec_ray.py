"""`--executor ray` against the local executor: the same bytes for simulate, convert and eval, and a
killed Ray run that resumes to the bytes of an uninterrupted one. One local Ray with 2 CPUs is
shared by the whole module (the CLI reuses it in-process; a subprocess joins it by its address);
skipped when Ray is not installed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest

import qa4d
from qa4d._exec import Done, in_order
from qa4d.cli import main
from tests.bench.tiny_bench import write_split
from tests.sources import test_convert_tapvid3d as tv

ray = pytest.importorskip("ray")

SIM = ["--scenes", "3", "--frames", "4", "--size", "40", "--seed", "5", "--tracks-per-object", "8",
       "--background-tracks", "16"]


def tree(root: Path) -> dict[str, bytes]:
    """Every file under root by relative path (hidden temporaries included, so leftovers show)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_in_order_releases_each_result_after_all_earlier_ones():
    seen = list(in_order([Done(2, "c", None), Done(0, "a", None), Done(3, "d", None), Done(1, "b", None)]))
    assert [d.result for d in seen] == ["a", "b", "c", "d"]


def test_simulate_same_bytes_as_local(ray_cluster, tmp_path):
    assert main(["simulate", "--out", str(tmp_path / "local"), *SIM, "--workers", "2"]) == 0
    assert main(["simulate", "--out", str(tmp_path / "ray"), *SIM, "--executor", "ray"]) == 0
    local, remote = tree(tmp_path / "local"), tree(tmp_path / "ray")
    assert sorted({k.split("/")[0] for k in local}) == ["sim5_00000", "sim5_00001", "sim5_00002"]
    assert local == remote
    # a second start finds every scene complete and rewrites nothing
    assert main(["simulate", "--out", str(tmp_path / "ray"), *SIM, "--executor", "ray"]) == 0
    assert tree(tmp_path / "ray") == local


def test_generate_same_bytes_as_local(ray_cluster, tmp_path):
    scenes = tmp_path / "scenes"
    assert main(["simulate", "--out", str(scenes), *SIM]) == 0
    for run, extra in (("one", []), ("pool", ["--workers", "2"]), ("ray", ["--executor", "ray"])):
        assert main(["generate", "--scenes", str(scenes), "--out", str(tmp_path / run), "--seed", "3", *extra]) == 0
    one = {k: v for k, v in tree(tmp_path / "one").items() if not k.startswith(".work/")}
    assert any(k.endswith("samples.jsonl") and v for k, v in one.items())
    # dataset.json records the settings (output directory, workers, executor): compared without them
    info = json.loads(one.pop("dataset.json"))
    info.pop("settings")
    for run in ("pool", "ray"):
        other = {k: v for k, v in tree(tmp_path / run).items() if not k.startswith(".work/")}
        other_info = json.loads(other.pop("dataset.json"))
        other_info.pop("settings")
        assert other == one and other_info == info


def test_convert_same_bytes_and_failures_as_local(ray_cluster, tmp_path, capsys):
    src = tmp_path / "src" / "adt"
    for name in ("a", "b", "c", "a!"):   # "a!" sorts first and claims the scene id of "a" too
        tv.write_clip(src / f"{name}.npz")
    tv.write_clip(src / "bad.npz", extrinsics_w2c=np.ones((tv.T, 4, 4)))
    capsys.readouterr()
    errs = {}
    for run, extra in (("local", []), ("pool", ["--workers", "2"]), ("ray", ["--executor", "ray"])):
        assert main(["convert", "--from", "tapvid3d", str(tmp_path / "src"), "--out", str(tmp_path / run),
                     "--fps", "10", *extra]) == 1
        errs[run] = [ln for ln in capsys.readouterr().err.splitlines() if "failed:" in ln]
    local = tree(tmp_path / "local")
    assert sorted({k.split("/")[0] for k in local}) == ["tapvid3d_adt_a", "tapvid3d_adt_b", "tapvid3d_adt_c"]
    assert json.loads(local["tapvid3d_adt_a/scene.json"])["extra"]["convert"]["item"] == "adt/a!.npz"
    assert tree(tmp_path / "pool") == local and tree(tmp_path / "ray") == local   # no staging left either
    assert len(errs["local"]) == 2
    assert "a.npz: scene id 'tapvid3d_adt_a' is also the id of" in errs["local"][0]
    assert "bad.npz" in errs["local"][1] and "extrinsics_w2c" in errs["local"][1]
    assert errs["pool"] == errs["local"] == errs["ray"]


# The answer depends on the item alone: the first options letter whose text sorts first, so the
# expected bytes do not depend on which worker answered or when. A file "hold" beside the model
# holds back the items from number N on (N its content) until it changes or goes: the test stops
# a command while its workers wait there, so the command is surely in mid-run. Ray's workers were
# started by this test process and do not see the environment of a command that joins the
# cluster later, hence a file.
MODEL = '''
import pathlib, time
def answer(prompt, images, item):
    assert len(images) == 2
    hold = pathlib.Path(__file__).with_name("hold")
    n = int(item.id.split("-")[-1])
    while True:
        try:
            if n < int(hold.read_text()):
                break
        except (OSError, ValueError):   # no hold (or being rewritten)
            if not hold.exists():
                break
        time.sleep(0.05)
    if item.options:
        return "Answer: " + min(item.options, key=lambda k: (item.options[k], k))
    return "Answer: yes"
'''


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_split(root / "ds", "bench", 14, seed=4)
    (root / "model.py").write_text(MODEL)
    return root


def eval_args(bench: Path, out: Path, *extra: str) -> list[str]:
    return ["eval", "--benchmark", str(bench / "ds" / "bench"), "--model", f"python:{bench / 'model.py'}:answer",
            "--frames", "2", "--out", str(out), *extra]


RESULTS = ("predictions.jsonl", "scored.jsonl", "metrics.json")


def test_eval_same_bytes_as_local(ray_cluster, bench, tmp_path):
    assert main(eval_args(bench, tmp_path / "local")) == 0
    assert main(eval_args(bench, tmp_path / "ray", "--executor", "ray")) == 0
    preds = [json.loads(x) for x in (tmp_path / "local" / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 14 and all(p["response"].startswith("Answer: ") for p in preds)
    for name in RESULTS:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name


class Stopped(NamedTuple):
    code: int       # the command's exit code (-9 when killed)
    stderr: str
    signals: str    # the command's signal masks when it was sent the signal (shown when a test fails)


def stop_when(argv: list[str], ready: Callable[[], bool], sig: int) -> Stopped:
    """Run `qa4d ARGV` in a process that joins the module's Ray and send `sig` once ready() holds:
    SIGINT to its process group, as Ctrl-C in a terminal does, or SIGKILL to the command alone.
    Returns once the command ended and the cluster no longer runs its tasks (Ray stops the tasks
    of a driver that disconnected, on Ctrl-C, or died, on kill -9)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(qa4d.__file__).parents[1]),
                                                       str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]))
    # a process started while SIGINT is ignored (as in a job a shell put in the background) ignores
    # Ctrl-C too: the command gets Python's default handler, whatever this test process has
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "qa4d.cli", *argv], env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        deadline = time.monotonic() + 300
        while proc.poll() is None and time.monotonic() < deadline and not ready():
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()
        masks = " ".join(ln for ln in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if ln.startswith("Sig"))
        if sig == signal.SIGINT:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            proc.send_signal(sig)
        code = proc.wait(120)
        stderr = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    deadline = time.monotonic() + 60
    while running_tasks() and time.monotonic() < deadline:
        time.sleep(0.2)
    return Stopped(code, stderr, masks)


def running_tasks() -> list[int]:
    """The Ray worker processes of this module's cluster (descendants of this process) now running
    a qa4d task (Ray names them after the task: ray::_ray_call)."""
    parent: dict[int, int] = {}
    tasks = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit():
                parent[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if (d / "cmdline").read_bytes().startswith(b"ray::_ray_call"):
                    tasks.append(int(d.name))
        except OSError:
            pass
    me = os.getpid()

    def ours(pid: int) -> bool:
        while pid > 1:
            pid = parent.get(pid, 0)
            if pid == me:
                return True
        return False
    return [pid for pid in tasks if ours(pid)]


def interrupted(stop: Stopped) -> bool:
    """The command ended as Ctrl-C ends it: exit code 130 and one line saying so."""
    return stop.code == 130 and "interrupted" in stop.stderr and "Traceback" not in stop.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's task processes in /proc")
def test_stopped_ray_simulate_resumes_to_the_bytes_of_a_local_run(ray_cluster, tmp_path):
    """Ctrl-C, then kill -9 of the resumed run, then the same command to the end."""
    sim = ["--scenes", "6", "--frames", "6", "--size", "64", "--seed", "7", "--tracks-per-object", "8",
           "--background-tracks", "16"]
    assert main(["simulate", "--out", str(tmp_path / "whole"), *sim]) == 0
    out = tmp_path / "stopped"
    argv = ["simulate", "--out", str(out), *sim, "--executor", "ray", "--ray-address", ray_cluster]

    def scenes() -> list[str]:
        return sorted(p.name for p in out.iterdir() if p.name.startswith("sim7_")) if out.is_dir() else []

    stop = stop_when(argv, lambda: len(scenes()) >= 1, signal.SIGINT)
    assert interrupted(stop), stop
    assert not running_tasks()                     # its tasks ended with it
    first = scenes()
    assert 1 <= len(first) < 6
    stop = stop_when(argv, lambda: len(scenes()) > len(first), signal.SIGKILL)
    assert stop.code == -signal.SIGKILL
    assert len(first) < len(scenes()) < 6
    assert main(argv) == 0
    assert tree(out) == tree(tmp_path / "whole")   # no temporary left, every scene once, same bytes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's task processes in /proc")
def test_stopped_ray_generate_resumes_to_the_bytes_of_a_local_run(ray_cluster, tmp_path):
    """Ctrl-C once a scene's candidates are written, then kill -9 of the resumed run, then the same
    command to the end: the dataset of an uninterrupted local run, no temporary left. (A scene
    takes a fraction of a second here, so a stop may land after the last one: the command then
    ended normally, and the resumed run must still give the same bytes.)"""
    scenes = tmp_path / "scenes"
    assert main(["simulate", "--out", str(scenes), "--scenes", "8", "--frames", "24", "--size", "64", "--seed", "2",
                 "--tracks-per-object", "8", "--background-tracks", "16"]) == 0
    gen = ["--scenes", str(scenes), "--seed", "3"]
    assert main(["generate", "--out", str(tmp_path / "whole"), *gen]) == 0
    out = tmp_path / "stopped"
    argv = ["generate", "--out", str(out), *gen, "--executor", "ray", "--ray-address", ray_cluster]

    def done() -> int:
        d = out / ".work" / "candidates"
        return len([p for p in d.iterdir() if p.suffix == ".json"]) if d.is_dir() else 0

    stop = stop_when(argv, lambda: done() >= 1, signal.SIGINT)
    assert interrupted(stop) or stop.code == 0, stop
    assert not running_tasks()
    stop = stop_when(argv, lambda: done() >= 2, signal.SIGKILL)
    assert stop.code in (-signal.SIGKILL, 0), stop
    assert main(argv) == 0

    def dataset(root: Path) -> dict:
        files = {k: v for k, v in tree(root).items() if not k.startswith(".work/")}
        info = json.loads(files.pop("dataset.json"))
        info.pop("settings")  # the output directory and executor
        return {**files, "dataset.json": info}
    assert dataset(out) == dataset(tmp_path / "whole")
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]  # none, in .work/ too


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds Ray's task processes in /proc")
def test_stopped_ray_eval_resumes_to_the_bytes_of_a_local_run(ray_cluster, bench, tmp_path):
    """Ctrl-C, then kill -9 of the resumed run, then the same command to the end."""
    assert main(eval_args(bench, tmp_path / "whole")) == 0
    run = tmp_path / "stopped"
    preds = run / "predictions.jsonl"
    argv = eval_args(bench, run, "--executor", "ray", "--ray-address", ray_cluster)

    def answered() -> int:
        return len(preds.read_bytes().splitlines()) if preds.exists() else 0

    hold = bench / "hold"
    try:
        hold.write_text("3")     # items 0-2 are answered, the others wait
        stop = stop_when(argv, lambda: answered() == 3, signal.SIGINT)
        assert interrupted(stop), stop
        assert not running_tasks()
        assert answered() == 3
        hold.write_text("6")     # the resumed run answers 3-5, then waits
        stop = stop_when(argv, lambda: answered() == 6, signal.SIGKILL)
        assert stop.code == -signal.SIGKILL
        assert answered() == 6
    finally:
        hold.unlink()
    assert main(argv) == 0
    lines = [json.loads(x) for x in preds.read_text().splitlines()]
    assert len(lines) == len({r["id"] for r in lines}) == 14   # nothing lost, nothing asked twice
    for name in RESULTS:
        assert (run / name).read_bytes() == (tmp_path / "whole" / name).read_bytes(), name
    assert sorted(p.name for p in run.iterdir()) == sorted(p.name for p in (tmp_path / "whole").iterdir())


def test_ray_address_needs_ray_executor(tmp_path, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--ray-address", "x:1"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err

