#!/usr/bin/env python
"""Throughput of the evaluation harness (a measurement, not a test; figures go to docs/benchmarks.md).

1. scoring: items scored per second by `qa4d.bench.scoring.score_responses` on N synthetic
   multiple-choice / yes-no / number items whose responses mix the styles the extractor handles
   (direct letter, "Answer: X", chain of thought with a final statement, option text, unparsable);
2. model calls: requests per second of the full run loop (`qa4d.bench.runner.run_model` with
   `--model openai`: frame JPEG encoding, HTTP, one fsync'd line per answer) against a local
   OpenAI-compatible server that answers at once, at concurrency 1 and 32, with no frames (HTTP
   and bookkeeping only) and with --frames 224x224 frames (adds PNG decoding and JPEG encoding).
   The server runs in the same process, so both share the interpreter (and its GIL). A last pair
   of rows uses a server that takes 50 ms per answer, where concurrency pays off.

    .venv/bin/python scripts/bench_eval.py [--items 20000] [--requests 400] [--frames 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import socket
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

from qa4d.bench.benchmarks.base import Benchmark
from qa4d.bench.models.openai import OpenAIChatClient, OpenAIModel
from qa4d.bench.runner import run_model
from qa4d.bench.scoring import score_responses
from qa4d.bench.types import BenchItem
from machine import machine_line  # scripts/machine.py




class Plain(Benchmark):
    name = "synthetic"
    default_frames = 4
    media_kind = "images"

    def load(self, annotations, media_root=None):
        raise NotImplementedError


def synthetic_items(n: int, rng: np.random.Generator, media: list[str] | None = None):
    words = ["left", "right", "towards the camera", "away from the camera"]
    items, responses = [], {}
    styles = [
        lambda a, o: a,
        lambda a, o: f"Answer: {a}",
        lambda a, o: f"The car first moves left, then it turns. Option A says left... Therefore, the final answer is: {a}",
        lambda a, o: f"<answer>{a}</answer>",
        lambda a, o: f"It moves {o.get(a, a)}." if o else f"It is {a}.",
        lambda a, o: "I cannot tell from these frames.",
    ]
    for i in range(n):
        kind = i % 4
        if kind < 2:
            opts = {L: w for L, w in zip("ABCD", rng.permutation(words))}
            ans = "ABCD"[int(rng.integers(4))]
            item = BenchItem(f"s{i}", "synthetic", "direction", "Where does the red car move?", ans, "mc", opts,
                             media=list(media or []))
        elif kind == 2:
            ans = "yes" if rng.random() < 0.5 else "no"
            item = BenchItem(f"s{i}", "synthetic", "moving", "Is the cube moving?", ans, "yesno",
                             media=list(media or []))
        else:
            ans = f"{rng.uniform(0.5, 5):.2f}"
            item = BenchItem(f"s{i}", "synthetic", "distance", "How far apart are the cubes (m)?", ans, "number",
                             meta={"unit": "m"}, media=list(media or []))
        style = styles[int(rng.integers(len(styles)))]
        responses[item.id] = style(ans, item.options or {}) if kind != 3 else f"About {float(ans) * 1.1:.2f} m."
        items.append(item)
    return items, responses


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # listen() backlog; the default 5 drops SYNs of 32 concurrent clients (1 s retry)


class InstantServer:
    """An OpenAI-compatible server that answers every chat request at once."""

    def __init__(self, latency: float = 0.0):
        self.latency = latency
        outer = self
        body = json.dumps({"id": "x", "object": "chat.completion", "model": "bench",
                           "choices": [{"index": 0, "message": {"role": "assistant", "content": "Answer: A"},
                                        "finish_reason": "stop"}]}).encode()
        models = json.dumps({"data": [{"id": "bench"}]}).encode()

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def setup(self):
                super().setup()
                # no Nagle: headers and body go out as separate writes, and a delayed ACK would
                # otherwise add ~40 ms to every request (a benchmark of the stdlib, not of qa4d)
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _send(self, data):
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send(models)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.latency:
                    time.sleep(outer.latency)
                self._send(body)

        self.httpd = _Server(("127.0.0.1", 0), H)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def bench_scoring(n: int) -> tuple[float, float]:
    items, responses = synthetic_items(n, np.random.default_rng(0))
    t0 = time.perf_counter()
    score_responses(Plain(), items, responses, seed=0)
    dt_ = time.perf_counter() - t0
    return n / dt_, dt_


def bench_requests(n: int, concurrency: int, frames: int, tmp: Path, server: InstantServer) -> tuple[float, float]:
    media = []
    for i in range(frames):
        rel = f"f{i}.png"
        if not (tmp / rel).exists():
            Image.fromarray(np.random.default_rng(i).integers(0, 256, (224, 224, 3), dtype=np.uint8)).save(tmp / rel)
        media.append(rel)
    items, _ = synthetic_items(n, np.random.default_rng(1), media)
    client = OpenAIChatClient(server.url, "bench", timeout=30, max_retries=2, backoff=0.05, pool_size=concurrency)
    model = OpenAIModel(client, concurrency=concurrency)
    out = tmp / f"run_c{concurrency}_f{frames}"
    t0 = time.perf_counter()
    res = run_model(Plain(), items, model, out, media_root=tmp, frames=frames, progress=False, log=lambda m: None)
    dt_ = time.perf_counter() - t0
    model.close()
    assert res.answered == n, res
    return n / dt_, dt_


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=20000, help="items to score (default 20000)")
    ap.add_argument("--requests", type=int, default=400, help="requests per concurrency level (default 400)")
    ap.add_argument("--frames", type=int, default=4, help="224x224 frames per request (default 4)")
    args = ap.parse_args()

    print(f"date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    rows = []
    ips, secs = bench_scoring(args.items)
    rows.append(("scoring (score_responses)", f"{args.items} items", f"{secs:.2f} s", f"{ips:,.0f} items/s"))
    server = InstantServer()
    try:
        with tempfile.TemporaryDirectory() as d:
            for frames in sorted({0, args.frames}):
                for c in (1, 32):
                    rps, secs = bench_requests(args.requests, c, frames, Path(d), server)
                    rows.append((f"run loop, openai, concurrency {c}",
                                 f"{args.requests} requests x {frames} frames", f"{secs:.2f} s", f"{rps:,.0f} requests/s"))
        # a server that takes 50 ms per answer (like a model): concurrency is what hides the latency
        slow = InstantServer(latency=0.05)
        try:
            with tempfile.TemporaryDirectory() as d:
                for c in (1, 32):
                    rps, secs = bench_requests(args.requests // 4, c, 0, Path(d), slow)
                    rows.append((f"run loop, openai, concurrency {c}, server 50 ms/answer",
                                 f"{args.requests // 4} requests x 0 frames", f"{secs:.2f} s", f"{rps:,.0f} requests/s"))
        finally:
            slow.close()
    finally:
        server.close()
    widths = [max(len(r[i]) for r in rows + [("what", "work", "time", "rate")]) for i in range(4)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(("what", "work", "time", "rate")))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))
    return 0


if __name__ == "__main__":
    sys.exit(main())
