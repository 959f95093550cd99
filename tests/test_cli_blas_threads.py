"""`qa4d` asks OpenBLAS for one thread in verbs that do no matrix work (cli.one_blas_thread)."""

import os
import subprocess
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _run(code: str, given: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    env["PYTHONPATH"] = os.pathsep.join([SRC, env.get("PYTHONPATH", "")])
    if given is not None:
        env["OPENBLAS_NUM_THREADS"] = given
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return out.stderr.strip().splitlines()[-1].split()


def _threads_line() -> str:
    # threads of the process that Python did not start (tqdm's monitor is Python's): OpenBLAS's
    # pool threads, started when NumPy is imported
    return ("import threading; native = [l.split()[1] for l in open('/proc/self/status') if l.startswith('Threads:')][0]; "
            "threads = int(native) - threading.active_count(); "
            "print(rc, 'numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'), threads, file=sys.stderr)")


def test_a_verb_without_matrix_work_runs_numpy_on_one_thread(tmp_path):
    code = ("import os, sys; from qa4d.cli import main; "
            f"rc = main(['validate', {str(tmp_path / 'missing')!r}]); " + _threads_line())
    rc, numpy_loaded, env, threads = _run(code, None)
    assert numpy_loaded == "True" and env == "1"
    assert threads == "0"       # no OpenBLAS pool thread
    assert rc != "0"            # the scene does not exist: validate says so and fails


def test_a_user_setting_is_kept(tmp_path):
    code = ("import os, sys; from qa4d.cli import main; "
            f"rc = main(['validate', {str(tmp_path / 'missing')!r}]); " + _threads_line())
    assert _run(code, "3")[2] == "3"


def test_training_keeps_the_blas_thread_pool():
    code = ("import os, sys; from qa4d.cli import one_blas_thread; one_blas_thread('train'); rc = 0; "
            "print(rc, 'numpy' in sys.modules, os.environ.get('OPENBLAS_NUM_THREADS'), file=sys.stderr)")
    assert _run(code, None)[2] == "None"
