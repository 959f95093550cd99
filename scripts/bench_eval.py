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
3. client CPU per item (`--only client-cpu`): user + system CPU seconds of the client process per
   item (resource.getrusage around the run loop, and of the whole process from os.wait4), on a
   synthetic qa4d bench split shaped like the demo's (8 stored JPEG frames of 160 px per item),
   against a local server in its own process (its CPU is not counted), at concurrency 1, 8, 32:
   `qa4d eval --model openai` (stored JPEGs sent as they are), the same with --reencode-images
   (decode + encode, the old path), and lmms-eval's OpenAI client (`lmms_eval.models.simple.openai`)
   on the task `qa4d export-lmms-eval` writes for the same split, when --lmms-python names an
   interpreter that has lmms-eval installed.
4. peak memory (`--only memory`): ru_maxrss of a whole `qa4d eval --model openai` process
   (os.wait4) on synthetic splits of 1x and 10x the demo's bench (430 and 4,300 items; 64 and 640
   scenes of 32 frames), with and without scoring.

CPU time, not wall time, is the figure of 3 and 4: the machine may be shared.

    .venv/bin/python scripts/bench_eval.py [--items 20000] [--requests 400] [--frames 4]
    .venv/bin/python scripts/bench_eval.py --only client-cpu --lmms-python /path/to/lmms-venv/bin/python
    .venv/bin/python scripts/bench_eval.py --only memory
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import socket
import subprocess
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

SCRIPT = Path(__file__).resolve()
SRC = SCRIPT.parents[1] / "src"
DEMO_BENCH_ITEMS, DEMO_SCENES = 430, 64   # `make demo`: 64 scenes, about 1,440 samples, 30% on bench




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
    ap.add_argument("--only", choices=["all", "throughput", "client-cpu", "memory"], default="all")
    ap.add_argument("--cpu-items", type=int, default=DEMO_BENCH_ITEMS, help="items per client-CPU run (default 430)")
    ap.add_argument("--lmms-python", help="an interpreter with lmms-eval installed (client-cpu comparison)")
    ap.add_argument("--baseline-src", type=Path,
                    help="client-cpu: also measure the qa4d package in this src/ directory (e.g. an older "
                         "commit's, from `git archive COMMIT src | tar -x -C DIR`)")
    ap.add_argument("--workdir", type=Path, help="where the synthetic splits go (default: a temporary directory)")
    # internal: the server and client processes of parts 3 and 4
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--client", choices=["qa4d", "qa4d-reencode", "lmms"], help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--split", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--task-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--concurrency", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        return serve_forever()
    if args.client:
        return run_client(args)

    print(f"date: {dt.datetime.now(dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"machine: {machine_line()}")
    if args.only in ("client-cpu", "memory"):
        with tempfile.TemporaryDirectory(dir=args.workdir) as d:
            if args.only == "client-cpu":
                bench_client_cpu(Path(d), args.cpu_items, args.lmms_python, args.baseline_src)
            else:
                bench_memory(Path(d))
        print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        return 0
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


# -- parts 3 and 4: a synthetic qa4d split, a server process, client processes ----------------------
def scene_frames(rng: np.random.Generator, n: int, size: int) -> list[np.ndarray]:
    """n frames of a toy scene: a shaded floor and three coloured boxes that drift, plus sensor
    noise (JPEG sizes like the simulator's frames, not like white noise)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    base = np.stack([90 + 60 * y / size, 110 + 40 * x / size, 140 - 50 * y / size], -1)
    boxes = [(rng.uniform(0, size * 0.7, 2), rng.uniform(-1.5, 1.5, 2), rng.integers(40, 255, 3)) for _ in range(3)]
    out = []
    for t in range(n):
        img = base.copy()
        for pos, vel, colour in boxes:
            x0, y0 = (pos + vel * t).astype(int) % int(size * 0.7)
            img[y0:y0 + size // 5, x0:x0 + size // 5] = colour
        out.append(np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8))
    return out


def write_bench_split(root: Path, n_items: int, n_scenes: int, frames: int = 32, per_item: int = 8,
                      size: int = 160, seed: int = 0) -> Path:
    """A qa4d dataset root with `bench/samples.jsonl` (n_items multiple-choice records, 8 frames
    each, spread over n_scenes scenes) and `media/<scene>/<frame>.jpg` (JPEG quality 90, as
    `qa4d generate` writes them). Returns the split directory."""
    rng = np.random.default_rng(seed)
    for s in range(n_scenes):
        d = root / "media" / f"sim{seed}_{s:05d}"
        d.mkdir(parents=True, exist_ok=True)
        for t, arr in enumerate(scene_frames(rng, frames, size)):
            Image.fromarray(arr).save(d / f"{t:06d}.jpg", quality=90)
    words = ["moves forward", "moves backward", "pans to the left", "tilts downward"]
    (root / "bench").mkdir(parents=True, exist_ok=True)
    lines = []
    for i in range(n_items):
        s = i % n_scenes
        start = int(rng.integers(0, frames - 16))
        idx = [start + int(round(k * 15 / (per_item - 1))) for k in range(per_item)]
        opts = {L: w for L, w in zip("ABCD", rng.permutation(words))}
        rec = {"id": f"sim{seed}_{s:05d}/camera_movement/{i:05d}", "family": "4dpqa", "task": "camera_movement",
               "category": "camera_motion", "scene_id": f"sim{seed}_{s:05d}",
               "media": [f"media/sim{seed}_{s:05d}/{k:06d}.jpg" for k in idx], "frame_indices": idx,
               "timestamps": [k / 8 for k in idx],
               "question": "Taking the viewpoint of frame 1 as the reference, what does the camera do over the clip?",
               "options": opts, "answer": "ABCD"[int(rng.integers(4))], "answer_format": "mc",
               "meta": {"objects": [], "label": ["forward"], "segment": [start, start + 16], "refs": [],
                        "measurement": {"translation": rng.normal(size=3).tolist(), "distance": float(rng.random()),
                                        "pan": 0.0, "tilt": 0.0, "roll": 0.0}}}
        lines.append(json.dumps(rec))
    (root / "bench" / "samples.jsonl").write_text("\n".join(lines) + "\n")
    return root / "bench"


def serve_forever() -> int:
    """`--serve`: an instant OpenAI-compatible server in this process; prints its URL, stops when
    stdin closes."""
    server = InstantServer()
    print(server.url, flush=True)
    sys.stdin.read()
    server.close()
    return 0


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run_client(args: argparse.Namespace) -> int:
    """`--client`: one measured run; prints {"items", "loop_cpu", "loop_wall"} as JSON."""
    if args.client == "lmms":
        items, cpu, wall = lmms_client(args)
    else:
        from qa4d.bench.benchmarks.qa4d import QA4D  # noqa: PLC0415

        bench = QA4D()
        items = bench.load(args.split, args.split.parent)
        client = OpenAIChatClient(args.url, "bench", timeout=60, max_retries=2, backoff=0.05,
                                  pool_size=args.concurrency)
        kw = {"reencode_images": True} if args.client == "qa4d-reencode" else {}  # (older code has no such flag)
        model = OpenAIModel(client, concurrency=args.concurrency, **kw)
        with tempfile.TemporaryDirectory() as d:
            c0, t0 = cpu_seconds(), time.perf_counter()
            res = run_model(bench, items, model, Path(d) / "run", media_root=args.split.parent, progress=False,
                            log=lambda m: None)
            cpu, wall = cpu_seconds() - c0, time.perf_counter() - t0
        model.close()
        assert res.answered == len(items), res
        items = len(items)
    print(json.dumps({"items": items, "loop_cpu": cpu, "loop_wall": wall}))
    return 0


def lmms_client(args: argparse.Namespace) -> tuple[int, float, float]:
    """lmms-eval's OpenAI client (`--model openai`) on the exported qa4d task: its own
    generate_until, the task's doc_to_visual / doc_to_text (qa4d's export), as its evaluator calls them."""
    import importlib.util  # noqa: PLC0415

    from lmms_eval.api.instance import Instance  # noqa: PLC0415
    from lmms_eval.models.simple.openai import OpenAICompatible  # noqa: PLC0415

    spec = importlib.util.spec_from_file_location("qa4d_task_utils", args.task_dir / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)
    docs = [json.loads(line) for line in (args.task_dir / "test.jsonl").read_text().splitlines() if line.strip()]
    lm = OpenAICompatible(model="bench", base_url=args.url, api_key="none", num_concurrent=args.concurrency,
                          max_retries=2, timeout=60)
    lm.task_dict = {"qa4d": {"test": docs}}
    reqs = [Instance("generate_until", (utils.doc_to_text(d), {"max_new_tokens": 64, "temperature": 0},
                                        utils.doc_to_visual, i, "qa4d", "test"), i,
                         metadata={"task": "qa4d", "doc_id": i, "repeats": 1}) for i, d in enumerate(docs)]
    c0, t0 = cpu_seconds(), time.perf_counter()
    out = lm.generate_until(reqs)
    cpu, wall = cpu_seconds() - c0, time.perf_counter() - t0
    texts = [getattr(r, "text", r) for r in out]
    assert len(texts) == len(docs) and all(t == "Answer: A" for t in texts), texts[:3]
    return len(docs), cpu, wall


def measured(cmd: list[str], env: dict | None = None) -> tuple[str, float, int]:
    """Run `cmd`; (stdout, user + system CPU seconds of the whole process, peak RSS in KiB), from
    os.wait4 (that process alone)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, ru = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd[:6])} ... failed:\n{err.read()[-3000:]}")
        return out.read(), ru.ru_utime + ru.ru_stime, ru.ru_maxrss


def env_with_src(src: Path = SRC) -> dict:
    return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "TQDM_DISABLE": "1"}


class ServerProcess:
    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, str(SCRIPT), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env_with_src())
        self.url = self.proc.stdout.readline().strip()
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def bench_client_cpu(tmp: Path, n_items: int, lmms_python: str | None, baseline_src: Path | None = None) -> None:
    split = write_bench_split(tmp / "ds", n_items, DEMO_SCENES)
    task_dir = tmp / "lmms_task"
    subprocess.run([sys.executable, "-m", "qa4d.cli", "export-lmms-eval", str(split), "--out", str(task_dir)],
                   check=True, env=env_with_src(), capture_output=True)
    clients = [("qa4d", "qa4d eval --model openai (stored JPEGs as they are)", sys.executable, SRC),
               ("qa4d-reencode", "qa4d eval --model openai --reencode-images", sys.executable, SRC)]
    if baseline_src:
        clients.append(("qa4d", f"qa4d eval --model openai, code in {baseline_src}", sys.executable, baseline_src))
    if lmms_python:
        clients.append(("lmms", "lmms-eval 0.7.3 `openai` client", lmms_python, SRC))
    print(f"{n_items} items x 8 stored JPEG frames (160 px, quality 90); local server in its own process")
    print("| client | concurrency | CPU ms / item (run loop) | wall ms / item | whole process CPU s (imports included) |")
    print("|---|---:|---:|---:|---:|")
    with ServerProcess() as server:
        for name, label, python, src in clients:
            for c in (1, 8, 32):
                cmd = [python, str(SCRIPT), "--client", name, "--url", server.url, "--split", str(split),
                       "--task-dir", str(task_dir), "--concurrency", str(c)]
                out, total_cpu, _ = measured(cmd, env_with_src(src))
                r = json.loads(out.strip().splitlines()[-1])
                print(f"| {label} | {c} | {1000 * r['loop_cpu'] / r['items']:.2f} | "
                      f"{1000 * r['loop_wall'] / r['items']:.2f} | {total_cpu:.2f} |", flush=True)


def bench_memory(tmp: Path) -> None:
    print("| bench | items | scenes | scoring | peak RSS (MiB) | whole process CPU s |")
    print("|---|---:|---:|---|---:|---:|")
    with ServerProcess() as server:
        for scale in (1, 10):
            split = write_bench_split(tmp / f"x{scale}", DEMO_BENCH_ITEMS * scale, DEMO_SCENES * scale)
            for score in (False, True):
                cmd = [sys.executable, "-m", "qa4d.cli", "eval", "--benchmark", str(split), "--model", "openai",
                       "--base-url", server.url, "--model-name", "bench", "--concurrency", "8",
                       "--out", str(tmp / f"run{scale}{int(score)}")] + ([] if score else ["--no-score"])
                _, cpu, rss = measured(cmd, env_with_src())
                print(f"| {scale}x demo | {DEMO_BENCH_ITEMS * scale} | {DEMO_SCENES * scale} | "
                      f"{'yes' if score else 'no'} | {rss / 1024:.0f} | {cpu:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
