"""A real OpenAI-compatible HTTP server on 127.0.0.1 for the model-client tests.

It serves GET /v1/models and POST /v1/chat/completions on an ephemeral port, logs every request
(path, item id found in the prompt, the image and video parts, headers) and can inject faults per item:

    server = FakeOpenAIServer(faults={"q3": ["500", "429", "sleep", "garbage", "empty"]})

Each fault is consumed by one request for that item; after the list is used up the item is answered.
The item id is read from the prompt text ("ITEM <id>"), which the tests' benchmark writes.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

from PIL import Image

class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # listen() backlog; the default 5 drops SYNs of concurrent clients (1 s retry)


ITEM_RE = re.compile(r"ITEM (\S+)")


class FakeOpenAIServer:
    def __init__(
        self,
        models: tuple[str, ...] = ("tiny-vlm",),
        answer: Callable[[str | None, dict], str] | None = None,
        faults: dict[str, list[str]] | None = None,
        list_models: bool = True,
        retry_after: float = 0.3,
        sleep_seconds: float = 1.5,
        hold_after: int | None = None,
    ):
        self.models = models
        self.answer = answer or (lambda item, body: "Answer: A")
        self.faults = {k: list(v) for k, v in (faults or {}).items()}
        self.list_models = list_models
        self.retry_after = retry_after
        self.sleep_seconds = sleep_seconds
        self.hold_after = hold_after          # answer this many requests, then hang until release()
        self.release_event = threading.Event()
        self.log: list[dict] = []
        self.answered = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):  # keep test output quiet
                pass

            def setup(self):
                super().setup()
                # headers and body are separate writes: without this, Nagle + delayed ACK add 40 ms
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def _send(self, status: int, body: bytes, headers: dict | None = None, ctype="application/json"):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout test)

            def do_GET(self):
                with server.lock:
                    server.log.append({"method": "GET", "path": self.path, "time": time.monotonic()})
                if self.path == "/v1/models" and server.list_models:
                    data = {"object": "list", "data": [{"id": m, "object": "model"} for m in server.models]}
                    self._send(200, json.dumps(data).encode())
                else:
                    self._send(404, b'{"detail": "Not Found"}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                if self.path != "/v1/chat/completions":
                    with server.lock:
                        server.log.append({"method": "POST", "path": self.path, "time": time.monotonic()})
                    self._send(404, b'{"detail": "Not Found"}')
                    return
                body = json.loads(raw)
                content = body["messages"][0]["content"]
                if isinstance(content, str):
                    texts, images, videos = [content], [], []
                else:
                    texts = [p["text"] for p in content if p.get("type") == "text"]
                    images = [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
                    videos = [p["video_url"]["url"] for p in content if p.get("type") == "video_url"]
                m = ITEM_RE.search(" ".join(texts))
                item = m.group(1) if m else None
                with server.lock:
                    queue = server.faults.get(item)  # key None: requests without an "ITEM" tag
                    fault = queue.pop(0) if queue else None
                    entry = {
                        "method": "POST", "path": self.path, "item": item, "n_images": len(images),
                        "images": images, "videos": videos, "texts": texts, "body": body, "fault": fault,
                        "auth": self.headers.get("Authorization"), "time": time.monotonic(),
                        "part_types": [] if isinstance(content, str) else [p.get("type") for p in content],
                    }
                    server.log.append(entry)
                    hold = (fault is None and server.hold_after is not None
                            and server.answered >= server.hold_after)
                if body.get("model") not in server.models:
                    msg = {"object": "error", "message": f"The model `{body.get('model')}` does not exist.",
                           "type": "NotFoundError", "code": 404}
                    self._send(404, json.dumps(msg).encode())
                    return
                if fault == "500":
                    self._send(500, b'{"error": "internal error"}')
                    return
                if fault == "503":
                    self._send(503, b"Service Unavailable", ctype="text/plain")
                    return
                if fault == "429":
                    self._send(429, b'{"error": "rate limited"}', {"Retry-After": f"{server.retry_after}"})
                    return
                if fault == "sleep":
                    time.sleep(server.sleep_seconds)
                if fault == "garbage":
                    self._send(200, b"<html>proxy error</html>", ctype="text/html")
                    return
                if fault == "nochoices":
                    self._send(200, b'{"id": "x", "object": "chat.completion", "choices": []}')
                    return
                if fault == "400":
                    self._send(400, b'{"error": "prompt too long"}')
                    return
                if hold:
                    server.release_event.wait(30)
                text = "" if fault == "empty" else server.answer(item, body)
                with server.lock:
                    server.answered += 1
                reply = {
                    "id": "chatcmpl-test", "object": "chat.completion", "model": body["model"],
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                                 "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                self._send(200, json.dumps(reply).encode())

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "FakeOpenAIServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release_event.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    # -- log helpers ---------------------------------------------------------------------------
    def chat_requests(self) -> list[dict]:
        with self.lock:
            return [e for e in self.log if e["method"] == "POST" and e["path"] == "/v1/chat/completions"]

    def asked_items(self) -> list[str]:
        return [e["item"] for e in self.chat_requests()]


def data_url_bytes(url: str, mime: str = "image/jpeg") -> bytes:
    """The bytes of a base64 data URL of type `mime`."""
    assert url.startswith(f"data:{mime};base64,"), url[:40]
    return base64.b64decode(url.split(",", 1)[1], validate=True)


def decode_data_url(url: str) -> Image.Image:
    return Image.open(io.BytesIO(data_url_bytes(url)))


@dataclass
class DecodedVideo:
    frames: list  # RGB PIL images, in presentation order
    times: list   # seconds from the stream's start
    rate: Fraction | None  # the stream's average frame rate
    codec: str


def decode_video_data_url(url: str) -> DecodedVideo:
    """Decode a `data:video/mp4;base64,...` URL with PyAV (as a video server would)."""
    import av  # noqa: PLC0415

    with av.open(io.BytesIO(data_url_bytes(url, "video/mp4"))) as c:
        stream = c.streams.video[0]
        frames = list(c.decode(stream))
        return DecodedVideo([f.to_image().convert("RGB") for f in frames], [float(f.time) for f in frames],
                            stream.average_rate, stream.codec_context.name)
