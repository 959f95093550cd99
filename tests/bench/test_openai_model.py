"""The OpenAI-compatible client against a real HTTP server on 127.0.0.1 (fake_openai_server.py)."""

from __future__ import annotations

import argparse
import json
import socket
import time

import pytest

from .fake_openai_server import FakeOpenAIServer, decode_data_url
from .tiny_bench import TinyBench, make_items, read_lines

from qa4d.bench.models.base import ModelConfigError, ModelError
from qa4d.bench.models.openai import OpenAIChatClient, OpenAIModel
from qa4d.bench.models.openai_client import _retry_after_seconds, normalise_base_url
from qa4d.bench.runner import run_model


def make_model(url: str, name: str = "tiny-vlm", concurrency: int = 4, timeout: float = 5.0,
               max_retries: int = 4, **kw) -> OpenAIModel:
    client = OpenAIChatClient(url, name, timeout=timeout, max_retries=max_retries, backoff=0.01,
                              max_backoff=0.05, pool_size=concurrency, **kw)
    return OpenAIModel(client, concurrency=concurrency)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_sends_requested_frames_as_image_parts_then_text(tmp_path):
    items = make_items(tmp_path, 5, n_frames=7)
    with FakeOpenAIServer() as server:
        model = make_model(server.url)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, frames=3,
                        progress=False)
        model.close()
        reqs = server.chat_requests()
    assert res.answered == 5 and not res.errors
    assert sorted(r["item"] for r in reqs) == [f"q{i}" for i in range(5)]
    for r in reqs:
        assert r["n_images"] == 3
        assert r["part_types"] == ["image_url"] * 3 + ["text"]   # frames first, then the prompt
        assert r["body"]["model"] == "tiny-vlm" and r["body"]["temperature"] == 0.0
        assert "(3 frames)" in r["texts"][0]
        # uniform sampling of 7 frames -> 0, 3, 6; the PNG's grey level encodes the index
        greys = [decode_data_url(u).convert("L").getpixel((5, 5)) for u in r["images"]]
        assert [round(g / 10) for g in greys] == [0, 3, 6]
        assert decode_data_url(r["images"][0]).size == (32, 24)
    preds = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert {p["id"]: p["response"] for p in preds} == {f"q{i}": "Answer: A" for i in range(5)}


def test_survives_500_429_timeouts_and_garbage(tmp_path):
    items = make_items(tmp_path, 6, n_frames=2)
    faults = {"q0": ["500", "503"], "q1": ["429"], "q2": ["sleep"], "q3": ["garbage", "nochoices"],
              "q4": ["500", "sleep", "garbage", "429"]}
    with FakeOpenAIServer(faults=faults, retry_after=0.4, sleep_seconds=1.2,
                          answer=lambda item, body: f"Answer: {item}") as server:
        model = make_model(server.url, timeout=0.5, max_retries=4)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, frames=2,
                        progress=False)
        model.close()
        asked = server.asked_items()
        reqs = server.chat_requests()
    assert res.answered == 6 and not res.errors
    assert {i: asked.count(i) for i in sorted(set(asked))} == {"q0": 3, "q1": 2, "q2": 2, "q3": 3, "q4": 5, "q5": 1}
    # Retry-After: 0.4 is honoured (the computed backoff alone would be <= 0.05 s)
    t = [r["time"] for r in reqs if r["item"] == "q1"]
    assert t[1] - t[0] >= 0.38
    preds = {p["id"]: p["response"] for p in read_lines(tmp_path / "run" / "predictions.jsonl")}
    assert preds == {f"q{i}": f"Answer: q{i}" for i in range(6)}
    assert model.client.stats == {"requests": 16, "retries": 10}


def test_gives_up_records_error_and_the_next_start_retries(tmp_path):
    items = make_items(tmp_path, 3, n_frames=1)
    faults = {"q1": ["500"] * 3 + ["garbage"]}  # 4 bad replies > 1 + max_retries(2) attempts
    with FakeOpenAIServer(faults=faults) as server:
        model = make_model(server.url, max_retries=2)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        assert res.answered == 2 and list(res.errors) == ["q1"]
        assert "gave up after 3 attempts" in res.errors["q1"] and "HTTP 500" in res.errors["q1"]
        lines = read_lines(tmp_path / "run" / "predictions.jsonl")
        assert {"id": "q1", "response": None, "error": res.errors["q1"]} in lines
        assert server.asked_items().count("q1") == 3
        # second start: only q1 is asked; its remaining fault is one garbage reply, then it answers
        res2 = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        model.close()
        asked = server.asked_items()
    assert res2.answered == 3 and not res2.errors and res2.asked == 1 and res2.skipped == 2
    assert asked.count("q1") == 5 and asked.count("q0") == 1 and asked.count("q2") == 1
    lines = read_lines(tmp_path / "run" / "predictions.jsonl")
    assert sorted(p["id"] for p in lines) == ["q0", "q1", "q2"]   # the error line was replaced
    assert all(isinstance(p["response"], str) for p in lines)


def test_client_error_is_recorded_without_retry(tmp_path):
    items = make_items(tmp_path, 2, n_frames=1)
    with FakeOpenAIServer(faults={"q0": ["400"]}) as server:
        model = make_model(server.url)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        model.close()
        assert server.asked_items().count("q0") == 1
    assert "HTTP 400" in res.errors["q0"] and res.answered == 1


def test_wrong_url_is_a_clear_immediate_error():
    port = free_port()  # nothing listens there
    t0 = time.monotonic()
    with pytest.raises(ModelConfigError, match=rf"cannot connect to http://127.0.0.1:{port}/v1 .*--base-url"):
        make_model(f"http://127.0.0.1:{port}")
    assert time.monotonic() - t0 < 5  # no retry loop on a refused connection at start


def test_wrong_path_404_is_a_clear_error(tmp_path):
    with FakeOpenAIServer() as server:
        # found at start: BASE/models is 404, so one probe of the chat endpoint, also 404
        with pytest.raises(ModelConfigError, match=r"404: no OpenAI-compatible chat API there .*--base-url"):
            make_model(f"http://127.0.0.1:{server.port}/api/wrong")
        posts = [e["path"] for e in server.log if e["method"] == "POST"]
        assert posts == ["/api/wrong/chat/completions"]  # the one probe; no item was asked
    assert not (tmp_path / "run").exists()


def test_unknown_model_name_is_reported_with_the_served_names():
    with FakeOpenAIServer(models=("qwen2.5-vl-7b", "other")) as server:
        with pytest.raises(ModelConfigError, match=r"'qwen-7b' is not served .* qwen2.5-vl-7b, other .*--model-name"):
            make_model(server.url, name="qwen-7b")


def test_model_not_found_404_body_maps_to_a_clear_error(tmp_path):
    items = make_items(tmp_path, 1, n_frames=1)
    with FakeOpenAIServer(list_models=False) as server:  # a gateway without /models
        # found at start by the probe request, not at the first item
        with pytest.raises(ModelConfigError, match=r"does not know model 'nope'.*--model-name"):
            make_model(server.url, name="nope")
        model = make_model(server.url)  # the served name passes the probe
        assert model.generate("ITEM q0", [], items[0]) == "Answer: A"
        model.close()
        assert server.asked_items() == [None, None, "q0"]


def test_api_key_is_sent_from_the_named_environment_variable(tmp_path, monkeypatch):
    items = make_items(tmp_path, 1, n_frames=1)
    monkeypatch.setenv("QA4D_TEST_KEY", "sk-test-123")
    with FakeOpenAIServer() as server:
        args = argparse.Namespace(base_url=server.url, model_name="tiny-vlm", api_key_env="QA4D_TEST_KEY",
                                  concurrency=2, timeout=5.0, max_retries=1, retry_backoff=0.01,
                                  max_tokens=64, temperature=0.0, jpeg_quality=80, seed=0)
        model = OpenAIModel.from_args(args)
        assert model.generate("ITEM q0 hi", [tmp_path / items[0].media[0]], items[0]) == "Answer: A"
        model.close()
        req = server.chat_requests()[0]
    assert req["auth"] == "Bearer sk-test-123" and req["body"]["max_tokens"] == 64
    monkeypatch.delenv("QA4D_TEST_KEY")
    with pytest.raises(ModelConfigError, match=r"QA4D_TEST_KEY"):
        OpenAIModel.from_args(args)


def test_base_url_and_retry_after_parsing():
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalise_base_url("https://gw.example/openai/v1beta") == "https://gw.example/openai/v1beta"
    with pytest.raises(ModelConfigError):
        normalise_base_url("localhost:8000")
    assert _retry_after_seconds("2.5") == 2.5
    assert _retry_after_seconds(None) is None
    assert _retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert _retry_after_seconds("soon") is None


def test_model_error_type_for_exhausted_retries():
    with FakeOpenAIServer(faults={"x": ["503"] * 5}) as server:
        client = OpenAIChatClient(server.url, "tiny-vlm", max_retries=1, backoff=0.01)
        with pytest.raises(ModelError, match="HTTP 503"):
            client.chat([{"role": "user", "content": "ITEM x"}])
        client.close()


def test_llm_judge_maps_only_unparsed_answers(tmp_path):
    from qa4d.bench.extract import extract
    from qa4d.bench.judge import LLMJudge
    from qa4d.bench.runner import score_run

    items = make_items(tmp_path, 4, n_frames=1)  # ground truth A, B, C, D
    responses = {"q0": "Answer: A", "q1": "The motion is ambiguous; hard to say.",
                 "q2": "I cannot tell from these frames.", "q3": "Answer: C"}
    assert [extract(responses[i], it).value for i, it in zip(responses, items)] == ["A", None, None, "C"]
    run = tmp_path / "run"
    run.mkdir()
    (run / "predictions.jsonl").write_text("".join(json.dumps({"id": k, "response": v}) + "\n"
                                                   for k, v in responses.items()))

    def judge_answer(item, body):
        text = body["messages"][0]["content"]
        return "B" if "hard to say" in text else "NONE"

    with FakeOpenAIServer(models=("judge-llm",), answer=judge_answer) as server:
        judge = LLMJudge(OpenAIChatClient(server.url, "judge-llm", max_retries=1, backoff=0.01, max_tokens=16))
        metrics = score_run(TinyBench(items), items, run, judge=judge)
        reqs = server.chat_requests()
    assert len(reqs) == 2                                   # only the two unparsed responses
    prompts = sorted(r["body"]["messages"][0]["content"] for r in reqs)
    assert all("A. direction A" in p and "D. direction D" in p for p in prompts)
    assert reqs[0]["body"]["max_tokens"] == 16 and reqs[0]["body"]["temperature"] == 0.0
    scored = {s["id"]: s for s in map(json.loads, (run / "scored.jsonl").read_text().splitlines())}
    assert scored["q1"]["judged"] is True and scored["q1"]["rule"] == "judge"
    assert scored["q1"]["extracted"] == "B" and scored["q1"]["correct"] is True
    assert scored["q2"]["judged"] is False and scored["q2"]["extracted"] is None and scored["q2"]["correct"] is False
    assert not scored["q0"]["judged"] and scored["q3"]["correct"] is False
    assert metrics["overall"]["judged"] == 1
    assert metrics["overall"]["accuracy"] == pytest.approx(0.5)


def test_qa4d_eval_cli_with_openai_model(tmp_path, capsys):
    from qa4d.cli import main

    from .tiny_bench import write_split

    recs = write_split(tmp_path, "bench", 30, seed=4)
    truth = {r["id"]: r for r in recs}

    def answer(item, body):  # a perfect model that reads the question back from the prompt
        text = body["messages"][0]["content"][-1]["text"]
        rec = next(r for r in recs if r["question"] in text and all(v in text for v in (r["options"] or {}).values()))
        return "Answer: yes" if rec["answer_format"] == "yesno" else "Answer: A"

    faults = {None: ["500", "garbage"]}  # the first two requests fail; the items are retried
    with FakeOpenAIServer(answer=answer, faults=faults) as server:
        base = ["eval", "--benchmark", str(tmp_path / "bench"), "--model", "openai", "--base-url", server.url,
                "--model-name", "tiny-vlm", "--frames", "2", "--concurrency", "8", "--retry-backoff", "0.01",
                "--out", str(tmp_path / "run")]
        assert main(base + ["--limit", "12"]) == 0
        assert main(base) == 0                     # extend the same run to all items
        reqs = server.chat_requests()
        assert main(["eval", "--benchmark", str(tmp_path / "bench"), "--model", "openai", "--base-url", server.url,
                     "--model-name", "gpt-x", "--out", str(tmp_path / "run2")]) == 2
    err = capsys.readouterr().err
    assert "'gpt-x' is not served" in err
    answered = [r for r in reqs if r["fault"] is None]
    assert len(answered) == 30 and len(reqs) == 32
    assert {r["n_images"] for r in reqs} == {2}
    preds = [json.loads(x) for x in (tmp_path / "run/predictions.jsonl").read_text().splitlines()]
    assert sorted(p["id"] for p in preds) == sorted(truth)
    m = json.loads((tmp_path / "run/metrics.json").read_text())
    n_track = sum(r["answer_format"] == "track" for r in recs)  # "Answer: A" is no track
    assert m["overall"]["n"] == 30 and m["overall"]["unparsed"] == n_track > 0
    assert (tmp_path / "run/report.html").stat().st_size > 0


def test_a_web_page_at_the_base_url_is_a_clear_error():
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    class Page(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html><body>Welcome to the dashboard</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        with pytest.raises(ModelConfigError, match=r"text/html, not JSON.*no OpenAI-compatible API there"):
            make_model(f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_empty_reply_is_retried_not_taken_as_an_answer(tmp_path):
    items = make_items(tmp_path, 3, n_frames=1)
    with FakeOpenAIServer(faults={"q1": ["empty", "empty"]}) as server:
        model = make_model(server.url)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        model.close()
        assert server.asked_items().count("q1") == 3
    preds = {p["id"]: p for p in read_lines(tmp_path / "run" / "predictions.jsonl")}
    assert res.answered == 3 and preds["q1"]["response"] == "Answer: A"


def test_only_empty_replies_make_an_item_error_that_the_next_start_retries(tmp_path):
    items = make_items(tmp_path, 2, n_frames=1)
    with FakeOpenAIServer(faults={"q0": ["empty"] * 3}) as server:
        model = make_model(server.url, max_retries=2)
        res = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        assert "empty reply" in res.errors["q0"] and res.answered == 1
        res2 = run_model(TinyBench(items), items, model, tmp_path / "run", media_root=tmp_path, progress=False)
        model.close()
    assert res2.asked == 1 and res2.errors == {} and res2.answered == 2


def _static_site(root):
    """A plain web server (the standard library's file server) serving an index.html."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (root / "index.html").write_text("<html><body>My homepage</body></html>")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *a):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return httpd


@pytest.mark.parametrize("base", ["static", "catch-all", "not-a-url", "no-scheme"])
def test_a_base_url_without_the_api_stops_eval_before_the_first_item(tmp_path, base):
    """A web site (404 HTML on /v1/models, 501 on POST), a site that answers every path with its
    page, and strings that are not http URLs: one line, exit 2, no item asked or recorded."""
    import subprocess
    import sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading

    from .tiny_bench import write_split

    write_split(tmp_path, "bench", 4, seed=1)
    site = tmp_path / "site"
    site.mkdir()
    httpd = None
    if base == "static":
        httpd = _static_site(site)
        url = f"http://127.0.0.1:{httpd.server_address[1]}"
    elif base == "catch-all":
        class Page(BaseHTTPRequestHandler):  # every GET and POST: 200 with the same HTML page
            def _page(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                body = b"<!doctype html><html><body>Welcome</body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _page

            def log_message(self, *a):
                pass

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Page)
        threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/v1/models/"  # a page at /v1/models/models too
    elif base == "not-a-url":
        url = "my model server"
    else:
        url = "127.0.0.1:8000"
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "qa4d.cli", "eval", "--benchmark", str(tmp_path / "bench"), "--model", "openai",
             "--base-url", url, "--model-name", "tiny-vlm", "--max-retries", "5", "--retry-backoff", "5",
             "--out", str(tmp_path / "run")],
            capture_output=True, text=True, timeout=120)
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "--base-url" in lines[0] and lines[0].startswith("qa4d eval: ")
    assert not (tmp_path / "run" / "predictions.jsonl").exists() or not (tmp_path / "run" / "predictions.jsonl").read_text()


@pytest.mark.parametrize("flag_prefix", ["", "--judge-"])
def test_retry_settings_that_cannot_work_are_refused_before_any_request(flag_prefix):
    """--max-retries -1 used to make no attempt at all: every item failed with 'gave up after 0
    attempts: ' and an empty reason; a negative backoff failed every retried item in time.sleep."""
    with FakeOpenAIServer() as server:
        with pytest.raises(ModelConfigError, match=f"^{flag_prefix or '--'}max-retries must be 0 or more, got -1$"):
            OpenAIChatClient(server.url, "tiny-vlm", max_retries=-1, flag_prefix=flag_prefix)
        with pytest.raises(ModelConfigError, match="retry-backoff must be 0 or more"):
            OpenAIChatClient(server.url, "tiny-vlm", backoff=-0.5, flag_prefix=flag_prefix)
        client = OpenAIChatClient(server.url, "tiny-vlm", max_retries=0, backoff=0.0, flag_prefix=flag_prefix)
        assert client.chat([{"role": "user", "content": "ITEM q0"}]) == "Answer: A"
        client.close()
        assert server.asked_items() == ["q0"]
