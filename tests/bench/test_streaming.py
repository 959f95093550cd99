"""`qa4d eval` holds ids, not items: the run loop reads the benchmark again per pass and keeps only
the items in flight."""

from __future__ import annotations

import gc
import json
import uuid
import weakref

from .fake_openai_server import FakeOpenAIServer
from .tiny_bench import TinyBench, make_items, read_lines

from qa4d._exec import ExecutorConfig
from qa4d.bench.models.base import Model
from qa4d.bench.asking import BatchJob, ask_on_executor, in_batches
from qa4d.bench.runner import run_model
from qa4d.bench.types import BenchItem
from qa4d.cli import main as qa4d_main


class Watching(Model):
    """Answers 'Answer: A' and records how many items built by the source are alive meanwhile."""

    needs_images = False
    concurrency = 2

    def __init__(self, alive: list):
        self.alive, self.most = alive, 0

    def generate(self, prompt, images, item):
        if item.id.endswith("7"):   # now and then: items in reference cycles would wait for it
            gc.collect()
        self.most = max(self.most, sum(1 for r in self.alive if r() is not None))
        return "Answer: A"


def test_run_loop_keeps_only_the_items_in_flight(tmp_path):
    template = make_items(tmp_path, 1, n_frames=1)[0]
    alive: list = []   # weak references to every item the source built
    passes = []

    def source():
        passes.append(1)
        for i in range(300):
            it = BenchItem(**{**template.__dict__, "id": f"q{i}"})
            alive.append(weakref.ref(it))
            yield it

    model = Watching(alive)
    res = run_model(TinyBench(), source, model, tmp_path / "run", media_root=tmp_path, progress=False)
    assert res.answered == 300 and res.items == 300 and not res.errors
    assert len(passes) >= 2                       # read again rather than kept
    assert model.most <= 2 * model.concurrency + 2, model.most   # a list would keep all 300 alive
    assert sorted(p["id"] for p in read_lines(tmp_path / "run" / "predictions.jsonl")) == sorted(f"q{i}" for i in range(300))
    # resuming skips every answered id, from the same kind of source
    again = run_model(TinyBench(), source, model, tmp_path / "run", media_root=tmp_path, progress=False)
    assert again.asked == 0 and again.skipped == 300


def test_eval_reads_every_record_before_the_model_is_called(tmp_path):
    """A duplicate id on the last line of a qa4d split stops `qa4d eval` before any request."""
    from .tiny_bench import write_split

    recs = [r for r in write_split(tmp_path, "bench", 10, seed=3) if r["answer_format"] == "yesno"][:2]
    recs = recs * 3   # five valid records, then the second one again (a duplicate id)
    recs = [{**r, "id": f"s{i}", "answer": "yes"} for i, r in enumerate(recs[:5])] + [{**recs[1], "id": "s1", "answer": "yes"}]
    (tmp_path / "bench" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    with FakeOpenAIServer() as server:
        code = qa4d_main(["eval", "--benchmark", str(tmp_path / "bench"), "--model", "openai", "--base-url", server.url,
                          "--model-name", "tiny-vlm", "--out", str(tmp_path / "run")])
        asked = server.chat_requests()
    assert code == 1 and asked == []
    assert not (tmp_path / "run" / "predictions.jsonl").exists()
    # --limit 5 stops before the duplicate: those five are asked and scored
    with FakeOpenAIServer(answer=lambda item, body: "yes") as server:
        code = qa4d_main(["eval", "--benchmark", str(tmp_path / "bench"), "--model", "openai", "--base-url", server.url,
                          "--model-name", "tiny-vlm", "--limit", "5", "--out", str(tmp_path / "run5")])
        assert len(server.chat_requests()) == 5
    assert code == 0
    assert json.loads((tmp_path / "run5" / "metrics.json").read_text())["overall"]["accuracy"] == 1.0


class Blind(Model):
    needs_images = False

    def generate(self, prompt, images, item):
        return "Answer: A"


def broken_factory():
    raise RuntimeError("no GPU here")


def test_executor_path_reads_each_batch_when_it_is_sent(tmp_path):
    """The executor path (Ray's; here the in-process executor, which runs each job as it is read)
    reads an item only when its batch is sent: no list of the whole benchmark is built first. A
    job that fails as a whole fails exactly its own batch's items."""
    template = make_items(tmp_path, 1, n_frames=1)[0]
    saved: list = []
    saved_when_read: list = []   # how many answers were saved when each item was read

    def source(n):
        for i in range(n):
            saved_when_read.append(len(saved))
            yield BenchItem(**{**template.__dict__, "id": f"q{i}"})

    def save(rec):
        saved.append(rec)
        return rec

    job = BatchJob(Blind, uuid.uuid4().hex, TinyBench(), tmp_path, "do", None, 1)
    ask_on_executor(ExecutorConfig(), job, in_batches(source(20), 1), save, lambda recs: None)
    assert [r["id"] for r in saved] == [f"q{i}" for i in range(20)]
    assert all(r["response"] == "Answer: A" for r in saved)
    assert saved_when_read == list(range(20))   # a list built first would read all 20 before any answer

    saved.clear()
    job = BatchJob(broken_factory, uuid.uuid4().hex, TinyBench(), tmp_path, "do", None, 3)
    ask_on_executor(ExecutorConfig(), job, in_batches(source(7), 3), save, lambda recs: None)
    assert [r["id"] for r in saved] == [f"q{i}" for i in range(7)]
    assert all(r["response"] is None and r["error"] == "RuntimeError: no GPU here" for r in saved)
