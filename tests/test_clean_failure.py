"""Clean failure of every verb, through real `python -m qa4d.cli` processes.

An --out that is a file, a full disk (a real 300 kB tmpfs in a private mount namespace when the
machine allows it, else os.write/os.fsync made to fail with ENOSPC), Ctrl-C in `generate`, and
the parent of `simulate`'s workers killed: one line on stderr, the documented exit code, no
traceback, no temporary file left, and a resumed run that ends with the bytes of a clean run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import qa4d

SRC = str(Path(qa4d.__file__).resolve().parent.parent)


def env(**extra) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k != "QA4D_DEBUG"}
    e["PYTHONPATH"] = SRC + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    e.update(extra)
    return e


def qa4d_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "qa4d.cli", *map(str, args)]


def run(*args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(qa4d_cmd(*args), capture_output=True, text=True, env=env(), timeout=timeout, **kw)


def temporaries(root: Path) -> list[Path]:
    return [p for p in Path(root).rglob(".*.tmp")]


def tree_hashes(root: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under root (the .work/ scratch directory excluded)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob("*")) if p.is_file() and ".work" not in p.relative_to(root).parts}


def assert_one_clean_line(proc: subprocess.CompletedProcess, code: int, *needles: str) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1, proc.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def reference(sim_scenes, tmp_path_factory) -> Path:
    """An uninterrupted `qa4d generate` of the shared simulated scenes."""
    out = tmp_path_factory.mktemp("reference") / "ds"
    proc = run("generate", "--scenes", sim_scenes, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out


# -- --out is a file ------------------------------------------------------------------------------

def verb_args(verb: str, out: Path, scenes: Path, dataset: Path) -> list[str]:
    return {
        "simulate": ["simulate", "--out", out, "--scenes", "1"],
        "generate": ["generate", "--scenes", scenes, "--out", out],
        "export": ["export", dataset, "--format", "llava", "--out", out],
        "card": ["card", dataset, "--out", out],
        "view": ["view", dataset, "--out", out],
        "score": ["score", "--benchmark", "qa4d", "--annotations", dataset / "bench",
                  "--predictions", dataset / "bench" / "samples.jsonl", "--out", out],
        "eval": ["eval", "--benchmark", dataset / "bench", "--model", "random", "--out", out],
        "report": ["report", dataset, "--out", out],
        "export-lmms-eval": ["export-lmms-eval", dataset / "bench", "--out", out],
    }[verb]


@pytest.mark.parametrize("verb", ["simulate", "generate", "export", "card", "view", "score", "eval", "report",
                                  "export-lmms-eval"])
def test_an_out_that_is_a_file_is_refused_in_one_line(verb, tmp_path, sim_scenes, reference):
    out = tmp_path / "taken"
    out.write_text("my notes\n")
    proc = run(*verb_args(verb, out, sim_scenes, reference))
    assert_one_clean_line(proc, 2, f"qa4d {verb}: --out {out} is an existing file")
    assert out.read_text() == "my notes\n"


def test_an_out_below_a_file_is_one_line_too(tmp_path, sim_scenes):
    (tmp_path / "taken").write_text("x")
    proc = run("generate", "--scenes", sim_scenes, "--out", tmp_path / "taken" / "ds")
    assert_one_clean_line(proc, 1, "qa4d generate: error:", "taken")


# -- a full disk ----------------------------------------------------------------------------------

def _can_mount_tmpfs() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
                           capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="cannot mount a tmpfs in a private mount namespace here")
def test_generate_on_a_real_full_disk_then_resume(tmp_path, sim_scenes, reference):
    """A 300 kB tmpfs (the dataset needs about 850 kB): the run fails cleanly; after the file system
    is grown (as a user would free space) the same command resumes and ends with the clean bytes."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    cmd = " ".join(qa4d_cmd("generate", "--scenes", sim_scenes, "--out", mnt / "ds"))
    script = textwrap.dedent(f"""\
        mount -t tmpfs -o size=300k tmpfs {mnt} || exit 99
        {cmd} 2> {tmp_path}/err1; echo $? > {tmp_path}/rc1
        find {mnt} -name '.*.tmp' > {tmp_path}/tmp1
        mount -o remount,size=8m {mnt}
        {cmd} 2> {tmp_path}/err2; echo $? > {tmp_path}/rc2
        find {mnt} -name '.*.tmp' > {tmp_path}/tmp2
        cd {mnt}/ds && find . -type f ! -path './.work/*' | sort | xargs sha256sum > {tmp_path}/sums
    """)
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env(), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    first = subprocess.CompletedProcess([], int((tmp_path / "rc1").read_text()), "", (tmp_path / "err1").read_text())
    assert_one_clean_line(first, 1, "qa4d generate: error:", "no space left on device")
    assert (tmp_path / "tmp1").read_text() == ""
    assert (tmp_path / "rc2").read_text().strip() == "0", (tmp_path / "err2").read_text()
    assert (tmp_path / "tmp2").read_text() == ""
    sums = {line.split(maxsplit=1)[1].strip()[2:]: line.split()[0]
            for line in (tmp_path / "sums").read_text().splitlines()}
    assert sums == tree_hashes(reference)


FAIL_WRITES = """
import errno, os, sys
after = int(sys.argv[1])
calls = [0]
real_fsync = os.fsync
def fsync(fd):
    calls[0] += 1
    if calls[0] > after:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return real_fsync(fd)
os.fsync = fsync
from qa4d.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("after", [0, 3, 40])
def test_generate_when_writes_fail_with_enospc(tmp_path, sim_scenes, reference, after):
    """The disk fills after `after` files were written (0: at once; 3: in the per-scene phase;
    40: among the media). Portable: os.fsync raises ENOSPC."""
    out = tmp_path / "ds"
    proc = subprocess.run([sys.executable, "-c", FAIL_WRITES, str(after), "generate", "--scenes", sim_scenes,
                           "--out", out], capture_output=True, text=True, env=env(), timeout=600)
    assert_one_clean_line(proc, 1, "qa4d generate: error:", "no space left on device", str(out))
    assert temporaries(out) == []
    again = run("generate", "--scenes", sim_scenes, "--out", out)
    assert again.returncode == 0, again.stderr
    assert tree_hashes(out) == tree_hashes(reference)


def test_score_when_the_disk_is_full(tmp_path, reference):
    preds = tmp_path / "pred.jsonl"
    first = json.loads((reference / "bench" / "samples.jsonl").read_text().splitlines()[0])
    preds.write_text(json.dumps({"id": first["id"], "response": "A"}) + "\n")  # something to score
    out = tmp_path / "scored"
    proc = subprocess.run([sys.executable, "-c", FAIL_WRITES, "0", "score", "--benchmark", "qa4d", "--annotations",
                           reference / "bench", "--predictions", preds, "--out", out],
                          capture_output=True, text=True, env=env(), timeout=600)
    assert_one_clean_line(proc, 1, "qa4d score: error:", "no space left on device")
    assert temporaries(out) == [] and not (out / "metrics.json").exists()


def test_debug_shows_the_traceback(tmp_path, sim_scenes):
    proc = subprocess.run([sys.executable, "-c", FAIL_WRITES, "0", "generate", "--scenes", sim_scenes,
                           "--out", tmp_path / "ds", "--debug"], capture_output=True, text=True, env=env(), timeout=600)
    assert proc.returncode == 1 and "Traceback" in proc.stderr and "OSError" in proc.stderr
    proc = subprocess.run([sys.executable, "-c", FAIL_WRITES, "0", "generate", "--scenes", sim_scenes,
                           "--out", tmp_path / "ds2"], capture_output=True, text=True, env=env(QA4D_DEBUG="1"),
                          timeout=600)
    assert proc.returncode == 1 and "Traceback" in proc.stderr


# -- Ctrl-C ---------------------------------------------------------------------------------------

def default_sigint() -> None:
    """preexec_fn: the child starts with SIGINT at its default, as under a terminal, even when this
    test runs where SIGINT is ignored (a background job inherits an ignored SIGINT, and Python then
    never installs its Ctrl-C handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


HOLD_AT_FSYNC = """
import os, sys, time
n, marker = int(sys.argv[1]), sys.argv[2]
calls = [0]
real_fsync = os.fsync
def fsync(fd):
    calls[0] += 1
    if calls[0] == n:  # a temporary file is open and half done: hold here until Ctrl-C
        open(marker, "w").close()
        time.sleep(600)
    return real_fsync(fd)
os.fsync = fsync
from qa4d.cli import main
sys.exit(main(sys.argv[3:]))
"""


def interrupt_when_held(argv: list[str], n: int, tmp_path: Path) -> subprocess.CompletedProcess:
    """Start qa4d in its own process group, wait until it holds in its n-th fsync, then send SIGINT
    to the whole group, as a terminal does on Ctrl-C."""
    marker = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-c", HOLD_AT_FSYNC, str(n), str(marker), *map(str, argv)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 300
        while not marker.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate()
                pytest.fail(f"qa4d never reached fsync {n} (exit {proc.returncode}): {err}")
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize("workers,n", [(1, 2), (1, 30), (2, 2)])
def test_ctrl_c_in_generate_then_resume(tmp_path, sim_scenes, reference, workers, n):
    """Interrupted in the per-scene phase (fsync 2), among the media (fsync 30), and with two worker
    processes that hold a half-written candidates file each."""
    out = tmp_path / "ds"
    argv = ["generate", "--scenes", sim_scenes, "--out", out, "--workers", workers]
    proc = interrupt_when_held(argv, n, tmp_path)
    assert_one_clean_line(proc, 130, "qa4d generate: interrupted")
    assert temporaries(out) == []
    again = run(*argv)
    assert again.returncode == 0, again.stderr
    assert tree_hashes(out) == tree_hashes(reference)


def test_a_resumed_run_removes_stale_temporaries(tmp_path, sim_scenes, reference):
    out = tmp_path / "ds"
    shutil.copytree(reference, out)
    stale = [out / "media" / ".000001.jpg.k2j3.tmp", out / ".work" / "candidates" / ".s.json.x9.tmp",
             out / "bench" / ".samples.jsonl.77.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    (out / ".dir.ab12.tmp").mkdir()
    (out / ".dir.ab12.tmp" / "f.png").write_bytes(b"x")
    keep = out / "media" / "notes.tmp"  # not hidden: not one of ours, kept
    keep.write_text("mine")
    proc = run("generate", "--scenes", sim_scenes, "--out", out)
    assert proc.returncode == 0, proc.stderr
    assert temporaries(out) == [] and keep.read_text() == "mine"
    keep.unlink()
    assert tree_hashes(out) == tree_hashes(reference)


# -- simulate's workers die with their parent ---------------------------------------------------

def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status waits for a reaper


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_simulate_workers_end_when_the_parent_is_killed(tmp_path):
    proc, workers = _start_simulate_with_two_workers(tmp_path / "scenes")
    try:
        assert len(workers) == 2 and proc.poll() is None, "simulate did not start its two workers"
        proc.send_signal(signal.SIGKILL)  # no chance to clean up: the workers must notice alone
        proc.wait()
        deadline = time.monotonic() + 60
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(w) for w in workers), f"workers {workers} outlived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for w in workers:  # never leave a stray worker behind, even when the test failed
            if _alive(w):
                os.kill(w, signal.SIGKILL)


def _start_simulate_with_two_workers(out: Path) -> tuple[subprocess.Popen, list[int]]:
    proc = subprocess.Popen(qa4d_cmd("simulate", "--out", out, "--scenes", "40", "--frames", "16", "--size", "64",
                                     "--workers", "2"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(),
                            start_new_session=True, preexec_fn=default_sigint)
    workers: list[int] = []
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        workers = [c for c in _children(proc.pid)
                   if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes().replace(b"\0", b" ")]
        if len(workers) == 2:
            break
        time.sleep(0.1)
    return proc, workers


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the worker processes")
def test_ctrl_c_in_simulate_with_workers(tmp_path):
    out = tmp_path / "scenes"
    proc, workers = _start_simulate_with_two_workers(out)
    try:
        assert len(workers) == 2 and proc.poll() is None, "simulate did not start its two workers"
        os.killpg(proc.pid, signal.SIGINT)  # the whole group, as a terminal does
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert_one_clean_line(subprocess.CompletedProcess([], proc.returncode, "", err), 130, "qa4d simulate: interrupted")
    assert not any(_alive(w) for w in workers)
    assert temporaries(out) == []
    complete = sorted(p.name for p in out.iterdir())
    assert len(complete) < 40 and all((out / n / "scene.json").is_file() for n in complete)


def test_eval_when_the_disk_fills_then_resume(tmp_path, reference):
    """The disk fills at the first answer eval appends (run.json was written): one line naming
    predictions.jsonl; the same command then finishes the run with one line per item."""
    out = tmp_path / "run"
    argv = ["eval", "--benchmark", reference / "bench", "--model", "oracle", "--out", out]
    proc = subprocess.run([sys.executable, "-c", FAIL_WRITES, "1", *map(str, argv)],
                          capture_output=True, text=True, env=env(), timeout=600)
    assert_one_clean_line(proc, 1, "qa4d eval: error:", str(out / "predictions.jsonl"), "no space left on device")
    assert temporaries(out) == []
    again = run(*argv)
    assert again.returncode == 0, again.stderr
    n_items = len((reference / "bench" / "samples.jsonl").read_text().splitlines())
    ids = [line.split('"id": ', 1)[1].split(",", 1)[0] for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids)) == n_items
    metrics = json.loads((out / "metrics.json").read_text())["overall"]
    assert metrics["n"] == n_items and metrics["errors"] == 0 and metrics["missing"] == 0
