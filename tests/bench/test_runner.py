"""The resumable run loop: nothing lost, nothing asked twice, media checked first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .fake_openai_server import FakeOpenAIServer
from .tiny_bench import TinyBench, make_items, read_lines

from qa4d.bench.models.base import Model, ModelConfigError, ModelError
from qa4d.bench.models.openai import OpenAIChatClient, OpenAIModel
from qa4d.bench.runner import (
    MediaMissing,
    PredictionWriter,
    RunError,
    RunInterrupted,
    read_predictions_file,
    run_model,
)

REPO = Path(__file__).resolve().parents[2]


def openai_model(url: str, concurrency: int = 4) -> OpenAIModel:
    client = OpenAIChatClient(url, "tiny-vlm", timeout=10, max_retries=2, backoff=0.01, pool_size=concurrency)
    return OpenAIModel(client, concurrency=concurrency)


class InterruptingModel(Model):
    """Forwards to a real model, then behaves like Ctrl-C arriving after `k` calls."""

    def __init__(self, inner: Model, k: int):
        self.inner, self.k, self.calls = inner, k, 0
        self.concurrency = inner.concurrency
        self.lock = threading.Lock()

    def generate(self, prompt, images, item):
        with self.lock:
            self.calls += 1
            if self.calls > self.k:
                raise KeyboardInterrupt
        return self.inner.generate(prompt, images, item)

    def describe(self):
        return self.inner.describe()


def test_interrupted_run_resumes_and_never_asks_an_item_twice(tmp_path):
    items = make_items(tmp_path, 20, n_frames=2)
    bench = TinyBench(items)
    with FakeOpenAIServer(answer=lambda item, body: f"Answer: {item}") as server:
        inner = openai_model(server.url, concurrency=4)
        with pytest.raises(RunInterrupted, match="run the same command again"):
            run_model(bench, items, InterruptingModel(inner, k=7), tmp_path / "run", media_root=tmp_path,
                      frames=2, progress=False)
        first = read_lines(tmp_path / "run" / "predictions.jsonl")
        asked_first = server.asked_items()
        assert len(first) == len(asked_first) == 7           # every request that was answered is saved
        res = run_model(bench, items, openai_model(server.url), tmp_path / "run", media_root=tmp_path,
                        frames=2, progress=False)
        asked = server.asked_items()
    assert res.skipped == 7 and res.asked == 13 and res.answered == 20
    assert sorted(asked) == sorted(it.id for it in items)     # the server saw each item exactly once
    lines = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert sorted(p["id"] for p in lines) == sorted(it.id for it in items)
    assert all(p["response"] == f"Answer: {p['id']}" for p in lines)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["counts"] == {"items": 20, "answered": 20, "errors": 0, "asked": 13, "skipped": 7}
    assert info["finished"] and info["first_started"] <= info["started"]


SCRIPT = """
import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from tests.bench.tiny_bench import TinyBench, make_items
from qa4d.bench.models.openai import OpenAIChatClient, OpenAIModel
from qa4d.bench.runner import run_model
root = Path({root!r})
items = make_items(root, 12, n_frames=2)
client = OpenAIChatClient({url!r}, "tiny-vlm", timeout=60, max_retries=0, pool_size=2)
run_model(TinyBench(items), items, OpenAIModel(client, concurrency=2), root / "run", media_root=root,
          frames=2, progress=False)
"""


def test_sigkilled_run_resumes_without_reasking_answered_items(tmp_path):
    with FakeOpenAIServer(answer=lambda item, body: f"Answer: {item}", hold_after=5) as server:
        script = tmp_path / "run_eval.py"
        script.write_text(SCRIPT.format(repo=str(REPO), root=str(tmp_path), url=server.url))
        proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pred = tmp_path / "run" / "predictions.jsonl"
        deadline = time.monotonic() + 30
        # wait until 5 answers are on disk and the next requests hang in the server
        while time.monotonic() < deadline:
            if pred.exists() and len(pred.read_bytes().splitlines()) >= 5 and len(server.asked_items()) >= 7:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        saved = {p["id"] for p in read_lines(pred)}
        in_flight = set(server.asked_items()) - saved
        assert len(saved) == 5 and len(in_flight) == 2
        server.hold_after = None
        server.release_event.set()
        n_before = len(server.asked_items())
        items = make_items(tmp_path, 12, n_frames=2)
        res = run_model(TinyBench(items), items, openai_model(server.url), tmp_path / "run", media_root=tmp_path,
                        frames=2, progress=False)
        asked_again = server.asked_items()[n_before:]
    assert res.answered == 12 and res.skipped == 5
    assert not saved & set(asked_again)                       # no answered item was asked again
    assert sorted(asked_again) == sorted({it.id for it in items} - saved)  # only the missing ones, once each
    lines = read_lines(pred)
    assert sorted(p["id"] for p in lines) == sorted(it.id for it in items)


class CountingModel(Model):
    needs_images = True

    def __init__(self, fail: set[str] = frozenset()):
        self.asked: list[str] = []
        self.fail = set(fail)
        self.n_images: list[int] = []

    def generate(self, prompt, images, item):
        self.asked.append(item.id)
        self.n_images.append(len(images))
        if item.id in self.fail:
            raise ValueError(f"cannot handle {item.id}")
        return f"Answer: {item.answer}"


def test_truncated_last_line_is_repaired_and_its_item_asked_again(tmp_path):
    items = make_items(tmp_path, 5, n_frames=1)
    run = tmp_path / "run"
    run.mkdir()
    good = [json.dumps({"id": f"q{i}", "response": "Answer: A"}) for i in range(3)]
    (run / "predictions.jsonl").write_text("\n".join(good) + '\n{"id": "q3", "respo')  # crash mid-line
    model = CountingModel()
    res = run_model(TinyBench(items), items, model, run, media_root=tmp_path, progress=False)
    assert sorted(model.asked) == ["q3", "q4"]
    assert res.skipped == 3 and res.answered == 5
    lines = read_lines(run / "predictions.jsonl")     # every line parses
    assert [p["id"] for p in lines] == ["q0", "q1", "q2", "q3", "q4"]  # concurrency 1: file order
    assert (run / "predictions.jsonl").read_bytes().endswith(b"\n")


def test_complete_last_line_without_newline_is_kept(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.jsonl").write_text('{"id": "a", "response": "x"}\n{"id": "b", "response": "y"}')
    state = read_predictions_file(run / "predictions.jsonl")
    assert state.responses == {"a": "x", "b": "y"} and state.unterminated and state.needs_rewrite
    assert state.problems == []  # nothing was dropped


def test_missing_media_are_all_reported_before_any_model_call(tmp_path):
    items = make_items(tmp_path, 4, n_frames=3)
    (tmp_path / items[1].media[2]).unlink()
    (tmp_path / items[3].media[0]).unlink()
    model = CountingModel()
    with pytest.raises(MediaMissing) as e:
        run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
    assert len(e.value.problems) == 2
    assert items[1].media[2] in str(e.value) and items[3].media[0] in str(e.value)
    assert model.asked == [] and not (tmp_path / "run" / "predictions.jsonl").exists()


def test_item_errors_are_recorded_and_only_they_are_retried(tmp_path):
    items = make_items(tmp_path, 6, n_frames=5)
    model = CountingModel(fail={"q2", "q4"})
    res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, frames=2, progress=False)
    assert res.answered == 4 and sorted(res.errors) == ["q2", "q4"]
    assert res.errors["q2"] == "ValueError: cannot handle q2"
    assert set(model.n_images) == {2}
    model2 = CountingModel(fail={"q4"})
    res2 = run_model(TinyBench(items), items, model2, tmp_path / "run", media_root=tmp_path, frames=2, progress=False)
    assert sorted(model2.asked) == ["q2", "q4"] and list(res2.errors) == ["q4"]
    lines = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert len(lines) == 6 and len({p["id"] for p in lines}) == 6   # one line per id, error lines replaced


def test_resuming_with_another_configuration_is_refused(tmp_path):
    items = make_items(tmp_path, 2, n_frames=1)
    run_model(TinyBench(items), items, CountingModel(), tmp_path / "run", media_root=tmp_path, progress=False,
              run_info={"benchmark": "tiny", "model": "m1", "mode": "do"})
    with pytest.raises(RunError, match=r"model: 'm1' \(in run.json\) vs 'm2'"):
        run_model(TinyBench(items), items, CountingModel(), tmp_path / "run", media_root=tmp_path,
                  progress=False, run_info={"benchmark": "tiny", "model": "m2", "mode": "do"})
    with pytest.raises(RunError, match="mode"):
        run_model(TinyBench(items), items, CountingModel(), tmp_path / "run", media_root=tmp_path,
                  progress=False, mode="cot", run_info={"benchmark": "tiny", "model": "m1"})


def test_config_error_stops_the_run_without_recording(tmp_path):
    items = make_items(tmp_path, 10, n_frames=1)

    class Broken(CountingModel):
        def generate(self, prompt, images, item):
            self.asked.append(item.id)
            raise ModelConfigError("weights not found")

    model = Broken()
    with pytest.raises(ModelConfigError, match="weights not found"):
        run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
    assert len(model.asked) == 1
    assert (tmp_path / "run" / "predictions.jsonl").read_text() == ""


def test_concurrent_appends_never_interleave(tmp_path):
    path = tmp_path / "p.jsonl"
    writer = PredictionWriter(path)
    big = "x" * 5000  # larger than a pipe buffer's atomic-write size

    def work(t):
        for i in range(100):
            writer.append({"id": f"{t}-{i}", "response": big})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    lines = read_lines(path)
    assert len(lines) == 800 and len({p["id"] for p in lines}) == 800
    assert all(p["response"] == big for p in lines)


SLOW_MODEL = '''
import os, time
def answer(prompt, images, item):
    with open(os.environ["QA4D_TEST_CALL_LOG"], "a") as f:
        f.write(item.id + "\\n")
    # Quick for the first answers, then slow: the Ctrl-C surely lands mid-run, even on a busy machine.
    with open(os.environ["QA4D_TEST_CALL_LOG"]) as f:
        n = sum(1 for _ in f)
    time.sleep(2.0 if n > 8 and os.environ.get("QA4D_TEST_SLOW") else 0.05)
    return "Answer: A" if item.options else "Answer: yes"
'''


def test_ctrl_c_on_qa4d_eval_exits_130_and_the_rerun_completes(tmp_path):
    from .tiny_bench import write_split

    recs = write_split(tmp_path, "bench", 40, seed=9)
    (tmp_path / "slow.py").write_text(SLOW_MODEL)
    calls = tmp_path / "calls.log"
    env = {**os.environ, "QA4D_TEST_CALL_LOG": str(calls), "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "qa4d.cli", "eval", "--benchmark", str(tmp_path / "bench"),
           "--model", f"python:{tmp_path / 'slow.py'}:answer", "--concurrency", "2", "--out", str(tmp_path / "run")]
    # SIGINT at its default in the child even where this test runs with SIGINT ignored (a background job)
    proc = subprocess.Popen(cmd, env={**env, "QA4D_TEST_SLOW": "1"}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    pred = tmp_path / "run" / "predictions.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (pred.exists() and len(pred.read_bytes().splitlines()) >= 6):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert b"run the same command again" in err
    saved = [p["id"] for p in read_lines(pred)]
    assert len(saved) == len(set(saved)) < 40
    assert sorted(calls.read_text().split()) == sorted(saved)   # every call that ran was saved
    done = subprocess.run(cmd, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    ids = calls.read_text().split()
    assert sorted(ids) == sorted(r["id"] for r in recs)          # each item asked exactly once overall
    assert sorted(p["id"] for p in read_lines(pred)) == sorted(r["id"] for r in recs)


# -- batching ------------------------------------------------------------------------------------
class BatchingModel(Model):
    """Answers whole batches; `fail_batch_with` makes every generate_batch call containing that id
    raise (the runner must then isolate the item); `interrupt_on_batch` behaves like Ctrl-C on the
    k-th batch call, before anything of that batch is answered."""

    supports_batching = True

    def __init__(self, fail_batch_with: str | None = None, interrupt_on_batch: int | None = None):
        self.batches: list[list[str]] = []
        self.singles: list[str] = []
        self.n_images: list[int] = []
        self.fail_batch_with, self.interrupt_on_batch = fail_batch_with, interrupt_on_batch

    def generate_batch(self, prompts, images, items):
        ids = [it.id for it in items]
        if self.interrupt_on_batch is not None and len(self.batches) + 1 == self.interrupt_on_batch:
            raise KeyboardInterrupt
        self.batches.append(ids)
        self.n_images += [len(im) for im in images]
        assert all(f"ITEM {i} " in p for i, p in zip(ids, prompts))   # prompts stay with their items
        if self.fail_batch_with in ids:
            raise RuntimeError("out of memory")
        return [f"Answer: {it.answer}" for it in items]

    def generate(self, prompt, images, item):
        self.singles.append(item.id)
        if item.id == self.fail_batch_with:
            raise ModelError(f"cannot answer {item.id}")
        return f"Answer: {item.answer}"


def test_batches_of_batch_size_items_in_order(tmp_path):
    items = make_items(tmp_path, 7, n_frames=4)
    model = BatchingModel()
    res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, frames=2,
                    batch_size=3, progress=False)
    assert model.batches == [["q0", "q1", "q2"], ["q3", "q4", "q5"]] and model.singles == ["q6"]
    assert model.n_images == [2] * 6 and res.answered == 7 and res.asked == 7
    lines = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert [p["id"] for p in lines] == [f"q{i}" for i in range(7)]
    assert all(p["response"] == f"Answer: {it.answer}" for p, it in zip(lines, items))
    # the default (1) and a model that cannot batch keep answering one item at a time
    one = BatchingModel()
    run_model(TinyBench(items), items, one, tmp_path / "run1", media_root=tmp_path, progress=False)
    assert one.batches == [] and one.singles == [it.id for it in items]
    logs: list[str] = []
    counting = CountingModel()
    run_model(TinyBench(items), items, counting, tmp_path / "run2", media_root=tmp_path, batch_size=4,
              progress=False, log=logs.append)
    assert counting.asked == [it.id for it in items] and any("batch size 4 ignored" in m for m in logs)
    with pytest.raises(RunError, match="batch size must be at least 1"):
        run_model(TinyBench(items), items, BatchingModel(), tmp_path / "run3", media_root=tmp_path,
                  batch_size=0, progress=False)


def test_a_bad_item_does_not_fail_its_batch(tmp_path):
    items = make_items(tmp_path, 6, n_frames=2)
    (tmp_path / items[1].media[0]).write_bytes(b"\x89PNG garbage")    # exists, but unreadable
    model = BatchingModel(fail_batch_with="q4")
    logs: list[str] = []
    res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, batch_size=3,
                    progress=False, log=logs.append)
    # q1's media error is its own; q0 and q2 are still asked together
    assert model.batches[0] == ["q0", "q2"]
    # the batch with q4 failed as a whole: its items were asked again one by one, only q4 failed
    assert model.batches[1] == ["q3", "q4", "q5"] and model.singles == ["q3", "q4", "q5"]
    assert any("batch of 3 failed (RuntimeError: out of memory)" in m for m in logs)
    assert sorted(res.errors) == ["q1", "q4"] and res.errors["q4"] == "cannot answer q4"
    assert "cannot read image" in res.errors["q1"] and res.answered == 4


def test_interrupted_batch_is_asked_again_on_resume_never_duplicated(tmp_path):
    items = make_items(tmp_path, 8, n_frames=1)
    first = BatchingModel(interrupt_on_batch=2)
    with pytest.raises(RunInterrupted, match="3 of 8 items answered"):
        run_model(TinyBench(items), items, first, tmp_path / "run", media_root=tmp_path, batch_size=3,
                  progress=False)
    # the first batch was saved when it returned; nothing of the interrupted one
    assert [p["id"] for p in read_lines(tmp_path / "run" / "predictions.jsonl")] == ["q0", "q1", "q2"]
    again = BatchingModel()
    res = run_model(TinyBench(items), items, again, tmp_path / "run", media_root=tmp_path, batch_size=3,
                    progress=False)
    assert again.batches == [["q3", "q4", "q5"], ["q6", "q7"]] and res.skipped == 3 and res.asked == 5
    lines = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert sorted(p["id"] for p in lines) == [it.id for it in items] and len(lines) == 8
