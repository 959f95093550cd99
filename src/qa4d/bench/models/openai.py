"""`--model openai`: any OpenAI-compatible chat server (vLLM, SGLang, LMDeploy, hosted APIs).

Each item is one POST to `BASE/chat/completions` with a single user message: the item's prefix
images (e.g. R4D-Bench's Set-of-Marks image), then the N sampled frames, as `image_url` parts
(base64 JPEG data URLs), followed by the prompt text. Greedy by default
(`temperature` 0).

What is sent for a frame (`image_bytes`): a stored JPEG goes as its own bytes when nothing would
change it (RGB or greyscale, upright, complete, no larger than `--max-image-side`), so the server
decodes exactly the stored pixels and the client spends no time decoding and encoding. Anything
else (PNG and other formats, CMYK, an EXIF rotation, a frame to downscale, a frame decoded from a
video) is decoded, turned upright, converted to RGB, downscaled when larger than
`--max-image-side`, and encoded as JPEG at `--jpeg-quality`. `--reencode-images` always does the
latter (the behaviour before stored bytes were sent).

`--video-mode video` sends the sampled frames of an item as one `video_url` part instead (a
base64 H.264 MP4 data URL, the form vLLM serves): frames at the times they were taken (the
video's timestamps, or the record's), else `--video-fps` apart; prefix images stay images.

Failures, and what happens to them:
  - a base URL that is not an http(s) URL, connection refused, 404/405/501 on the API, 401/403,
    unknown model name, a base URL that serves a web page (HTML) instead of the API:
    `ModelConfigError`, the run stops at once. These are found before the first item: the model
    list `BASE/models` is checked at start and, when the server has no usable list, one tiny
    chat request (max_tokens 1) probes the chat endpoint;
  - 429, 5xx, timeouts, dropped connections, replies that are not a chat completion, and empty
    replies (no text: an empty answer is a failure to answer, never an answer): retried with
    exponential backoff and jitter (honouring `Retry-After`), then `ModelError`: the item is
    recorded with its error and retried on the next start of the run;
  - other 4xx (e.g. a prompt too long for the context): `ModelError` at once.
"""

from __future__ import annotations

import argparse
import base64
import email.utils
import io
import json
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

import httpx
from PIL import Image

from qa4d.bench.media import (
    MediaError,
    clip_times,
    downscale_to_side,
    encode_mp4,
    exif_orientation,
    fits_side,
    read_upright_rgb,
    upright_rgb,
)
from qa4d.bench.models.base import ImageLike, Model, ModelConfigError, ModelError
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem

VIDEO_MODES = ("images", "video")
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524})


def normalise_base_url(url: str) -> str:
    """`http://host:8000` -> `http://host:8000/v1`; a URL with a path is kept as given.

    The OpenAI convention puts /v1 in the base URL; servers with other prefixes (hosted gateways)
    pass their full base and are used verbatim.
    """
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ModelConfigError(f"--base-url {url!r} is not an http(s) URL (expected e.g. http://127.0.0.1:8000/v1)")
    if parts.path in ("", "/"):
        url = url + "/v1"
    return url


def stored_jpeg_sendable(im: Image.Image, data: bytes, max_side: int | None) -> bool:
    """True when the file `data` (opened as `im`, header only) can be sent as it is: a JPEG (not an
    MPO or other variant) in RGB or greyscale, upright (EXIF orientation 1 or none), complete (SOI
    first, EOI last) and no larger than `max_side`. Its decoded pixels are then the RGB pixels the
    decode path starts from (greyscale is expanded to RGB identically by every decoder)."""
    return (im.format == "JPEG" and im.mode in ("RGB", "L") and fits_side(im.size, max_side)
            and data[:2] == b"\xff\xd8" and data[-2:] == b"\xff\xd9" and exif_orientation(im) == 1)


def image_bytes(image: ImageLike, quality: int = 90, max_side: int | None = None,
                reencode: bool = False) -> tuple[str, bytes]:
    """(MIME type, bytes) of one frame as it is sent (see the module docstring).

    `image`: a path of a stored image (sent as it is when `stored_jpeg_sendable`, unless
    `reencode`) or a PIL image (always encoded). MediaError when a stored file cannot be read.
    """
    if isinstance(image, (str, Path)):
        path = Path(image)
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                if not reencode and stored_jpeg_sendable(im, data, max_side):
                    return "image/jpeg", data
                rgb = upright_rgb(im)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            raise MediaError(f"cannot read image {path}: {e}") from e
    else:
        rgb = image.convert("RGB") if image.mode != "RGB" else image
    buf = io.BytesIO()
    downscale_to_side(rgb, max_side).save(buf, format="JPEG", quality=quality)
    return "image/jpeg", buf.getvalue()


def data_url(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def encode_image(image: ImageLike, quality: int = 90, max_side: int | None = None, reencode: bool = False) -> str:
    """A frame as a `data:image/jpeg;base64,...` URL (`image_bytes`)."""
    return data_url(*image_bytes(image, quality, max_side, reencode))


def video_bytes(frames: Sequence[ImageLike], times: Sequence[float | None], fallback_fps: float = 1.0,
                max_side: int | None = None, crf: int = 18) -> bytes:
    """The frames of one item as an H.264 MP4 (`qa4d.bench.media.encode_mp4`), each at its time
    (seconds from the first; `fallback_fps` apart when any time is unknown), upright RGB,
    downscaled to `max_side`. ModelError when the frames differ in size."""
    pics = []
    for f in frames:
        if isinstance(f, (str, Path)):
            try:
                f = read_upright_rgb(Path(f))
            except (OSError, ValueError, Image.DecompressionBombError) as e:
                raise MediaError(f"cannot read image {f}: {e}") from e
        pics.append(downscale_to_side(f.convert("RGB") if f.mode != "RGB" else f, max_side))
    sizes = sorted({p.size for p in pics})
    if len(sizes) > 1:
        raise ModelError(f"--video-mode video: the frames differ in size ({', '.join(f'{w}x{h}' for w, h in sizes)}); "
                         "one clip needs one size (use --video-mode images)")
    return encode_mp4(pics, clip_times(times, fallback_fps), crf=crf, fallback_fps=fallback_fps)


def build_messages(prompt: str, images: Sequence[ImageLike], jpeg_quality: int = 90, *,
                   max_side: int | None = None, reencode: bool = False, video: bool = False,
                   fallback_fps: float = 1.0, crf: int = 18) -> list[dict]:
    """One user message: image parts, then the prompt text. With `video`, the sampled frames (after
    `images.n_prefix` prefix images when `images` is a `Shown` list) go as one `video_url` part at
    `images.times`."""
    n_prefix = int(getattr(images, "n_prefix", 0)) if video else len(images)
    content: list[dict[str, Any]] = [
        {"type": "image_url", "image_url": {"url": encode_image(im, jpeg_quality, max_side, reencode)}}
        for im in images[:n_prefix]
    ]
    frames = list(images[n_prefix:])
    if frames:
        times = getattr(images, "times", None) or [None] * len(frames)
        mp4 = video_bytes(frames, times, fallback_fps, max_side, crf)
        content.append({"type": "video_url", "video_url": {"url": data_url("video/mp4", mp4)}})
    content.append({"type": "text", "text": prompt})
    return [{"role": "user", "content": content}]


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class _Retryable(Exception):
    def __init__(self, message: str, retry_after: float | None = None, web_page: bool = False):
        super().__init__(message)
        self.retry_after = retry_after
        self.web_page = web_page  # the reply was an HTML page (fatal when probing, transient mid-run)


class OpenAIChatClient:
    """A thread-safe client for `/chat/completions` with retries; shared by the model and the judge."""

    def __init__(
        self,
        base_url: str,
        model_name: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        max_backoff: float = 60.0,
        max_tokens: int | None = 1024,
        temperature: float = 0.0,
        seed: int | None = 0,
        pool_size: int = 8,
        flag_prefix: str = "",
    ):
        self.base_url = normalise_base_url(base_url)
        self.model_name = model_name
        self.timeout = float(timeout)
        self.max_retries = int(max_retries)
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed
        self._flag = flag_prefix  # "--judge-" for the judge, so errors name the right flags
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            headers=headers,
            limits=httpx.Limits(max_connections=max(1, pool_size), max_keepalive_connections=max(1, pool_size)),
        )
        self._rng = random.Random(seed)  # jitter only; seeded so a run's timing is reproducible
        self._rng_lock = threading.Lock()
        self.stats = {"requests": 0, "retries": 0}
        self._stats_lock = threading.Lock()

    # -- setup ---------------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Check the server is there and serves `model_name`; returns the served model ids.

        Raises ModelConfigError with a message that says which flag to fix.
        """
        url = f"{self.base_url}/models"
        try:
            r = self._http.get(url, timeout=min(self.timeout, 30.0))
        except httpx.ConnectError as e:
            raise ModelConfigError(
                f"cannot connect to {self.base_url} ({e}); is the server running? (check {self._flag or '--'}base-url)"
            ) from None
        except httpx.TimeoutException:
            raise ModelConfigError(f"{url} did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as e:
            raise ModelConfigError(f"cannot reach {url}: {e}") from None
        if r.status_code in (401, 403):
            raise ModelConfigError(
                f"{url} refused the API key (HTTP {r.status_code}): {_short(r.text)}; "
                f"set {self._flag or '--'}api-key-env to the variable holding the key"
            )
        if r.status_code >= 400:
            # Some gateways have no model list: one tiny chat request tells whether the API is there.
            self.probe_chat()
            return []
        try:
            data = r.json()
        except ValueError:
            # an HTML page or similar: a web server, but not an OpenAI-compatible API
            raise ModelConfigError(
                f"{url} answered with {r.headers.get('content-type', 'no content type')}, not JSON: "
                f"{_short(r.text, 80)!r}; no OpenAI-compatible API there (check {self._flag or '--'}base-url)"
            ) from None
        try:
            ids = [str(m["id"]) for m in data.get("data", [])]
        except (TypeError, KeyError, AttributeError):
            self.probe_chat()
            return []
        if ids and self.model_name not in ids:
            raise ModelConfigError(
                f"model {self.model_name!r} is not served by {self.base_url}; it serves: {', '.join(ids)} "
                f"(check {self._flag or '--'}model-name)"
            )
        return ids

    def probe_chat(self) -> None:
        """One chat request of one token: ModelConfigError when no chat API answers at the base URL
        (404/405/501, a web page instead of JSON, an unknown model). Transient failures (5xx, 429,
        timeouts) and an empty reply pass: the run's own retries deal with them."""
        payload = {"model": self.model_name, "messages": [{"role": "user", "content": "Reply with OK."}],
                   "temperature": 0.0, "max_tokens": 1}
        url = f"{self.base_url}/chat/completions"
        try:
            self._post_once(url, json.dumps(payload).encode("utf-8"))
        except _Retryable as e:
            if e.web_page:
                raise ModelConfigError(
                    f"{url} answered with a web page, not an OpenAI-compatible API ({e}); "
                    f"check {self._flag or '--'}base-url (it usually ends in /v1)"
                ) from None
        except ModelError:
            pass  # e.g. HTTP 400 for a parameter the server does not take: the API is there

    # -- requests ------------------------------------------------------------------------------
    def chat(self, messages: list[dict], max_tokens: int | None = None) -> str:
        """POST one chat completion and return the assistant text, retrying transient failures."""
        payload: dict[str, Any] = {"model": self.model_name, "messages": messages, "temperature": self.temperature}
        mt = self.max_tokens if max_tokens is None else max_tokens
        if mt:
            payload["max_tokens"] = int(mt)
        if self.seed is not None:
            payload["seed"] = int(self.seed)
        body = json.dumps(payload).encode("utf-8")
        url = f"{self.base_url}/chat/completions"
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._stats_lock:
                    self.stats["retries"] += 1
            try:
                return self._post_once(url, body)
            except _Retryable as e:
                last = str(e)
                if attempt == self.max_retries:
                    break
                time.sleep(self._delay(attempt, e.retry_after))
        raise ModelError(f"gave up after {self.max_retries + 1} attempts: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, max(self.max_backoff, 1.0) * 5)
        cap = min(self.max_backoff, self.backoff * (2**attempt))
        with self._rng_lock:
            return cap * (0.5 + 0.5 * self._rng.random())  # "equal jitter": never less than half

    def _post_once(self, url: str, body: bytes) -> str:
        with self._stats_lock:
            self.stats["requests"] += 1
        try:
            r = self._http.post(url, content=body)
        except httpx.ConnectError as e:
            # Refused mid-run usually means a restarting server: retry. (At start, check() is fatal.)
            raise _Retryable(f"connection error: {e}") from None
        except httpx.TimeoutException:
            raise _Retryable(f"no reply within {self.timeout:g} s (timeout)") from None
        except httpx.TransportError as e:
            raise _Retryable(f"transport error: {type(e).__name__}: {e}") from None
        status = r.status_code
        if status == 501:  # "Not Implemented": e.g. a static web server that takes no POST
            raise ModelConfigError(
                f"{url} returned 501 (method not implemented): no OpenAI-compatible chat API there "
                f"(check {self._flag or '--'}base-url; it usually ends in /v1)"
            )
        if status in RETRY_STATUS or status >= 500:
            raise _Retryable(f"HTTP {status}: {_short(r.text)}", _retry_after_seconds(r.headers.get("retry-after")))
        if status in (401, 403):
            raise ModelConfigError(f"{url} refused the API key (HTTP {status}): {_short(r.text)}")
        if status in (404, 405):
            text = r.text
            low = text.lower()
            if "model" in low and ("not found" in low or "does not exist" in low or "not exist" in low):
                raise ModelConfigError(
                    f"the server at {self.base_url} does not know model {self.model_name!r}: {_short(text)} "
                    f"(check {self._flag or '--'}model-name)"
                )
            raise ModelConfigError(
                f"{url} returned {status}: no OpenAI-compatible chat API there "
                f"(check {self._flag or '--'}base-url; it usually ends in /v1)"
            )
        if status >= 400:
            raise ModelError(f"HTTP {status}: {_short(r.text)}")
        try:
            data = r.json()
        except ValueError:
            ctype = r.headers.get("content-type", "no content type")
            raise _Retryable(f"reply is {ctype}, not JSON: {_short(r.text, 120)!r}",
                             web_page="html" in ctype.lower() or r.text.lstrip()[:1] == "<") from None
        try:
            choice = data["choices"][0]
            content = choice["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError):
            raise _Retryable(f"reply has no choices[0].message: {_short(r.text, 200)}") from None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise _Retryable(f"reply has no text content: {_short(r.text, 200)}")
        if not content.strip():
            reason = choice.get("finish_reason") if isinstance(choice, dict) else None
            raise _Retryable(f"empty reply (no text; finish_reason {reason!r})")
        return content

    def close(self) -> None:
        self._http.close()


def _api_key(var: str | None, flag: str) -> str | None:
    if not var:
        return None
    key = os.environ.get(var)
    if not key:
        raise ModelConfigError(f"{flag} names ${var}, but that environment variable is empty or unset")
    return key


@register_model("openai")
class OpenAIModel(Model):
    """Frames + prompt -> an OpenAI-compatible chat server."""

    # stored images arrive as paths: a JPEG that needs no change is sent as it is (image_bytes)
    accepts_paths = True

    def __init__(self, client: OpenAIChatClient, concurrency: int = 8, jpeg_quality: int = 90, check: bool = True,
                 *, max_image_side: int | None = None, reencode_images: bool = False, video_mode: str = "images",
                 video_fps: float = 1.0, video_crf: int = 18):
        if video_mode not in VIDEO_MODES:
            raise ModelConfigError(f"--video-mode must be one of {', '.join(VIDEO_MODES)}, got {video_mode!r}")
        if max_image_side is not None and max_image_side < 1:
            raise ModelConfigError(f"--max-image-side must be a positive number of pixels, got {max_image_side}")
        if not video_fps > 0:
            raise ModelConfigError(f"--video-fps must be positive, got {video_fps}")
        self.client = client
        self.concurrency = max(1, int(concurrency))
        self.jpeg_quality = jpeg_quality
        self.max_image_side = max_image_side
        self.reencode_images = bool(reencode_images)
        self.video_mode = video_mode
        self.video_fps = float(video_fps)
        self.video_crf = int(video_crf)
        self.served = client.check() if check else []

    @classmethod
    def add_arguments(cls, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--base-url", help="openai: server base URL, e.g. http://127.0.0.1:8000/v1")
        group.add_argument("--model-name", help="openai: model name the server serves (see BASE/models)")
        group.add_argument("--api-key-env", metavar="VAR", help="openai: environment variable holding the API key")
        group.add_argument("--concurrency", type=int, default=None,
                           help="requests in flight at once (openai default 8, python callables 1)")
        group.add_argument("--timeout", type=float, default=120.0, help="openai: seconds per request (default 120)")
        group.add_argument("--max-retries", type=int, default=5,
                           help="openai: retries on 429/5xx/timeouts/garbage before recording an error (default 5)")
        group.add_argument("--retry-backoff", type=float, default=1.0,
                           help="openai: first retry delay in seconds, doubled each retry, with jitter (default 1)")
        group.add_argument("--max-tokens", type=int, default=1024,
                           help="openai: most tokens to generate per answer (default 1024)")
        group.add_argument("--temperature", type=float, default=0.0, help="openai: sampling temperature (default 0)")
        group.add_argument("--jpeg-quality", type=int, default=90,
                           help="openai: JPEG quality of frames that are encoded (default 90; stored JPEGs "
                                "that need no change are sent as they are)")
        group.add_argument("--max-image-side", type=int, default=None, metavar="PX",
                           help="openai: downscale frames whose longer side exceeds PX pixels (aspect kept, "
                                "Lanczos); default: frames at their stored size")
        group.add_argument("--reencode-images", action="store_true",
                           help="openai: decode and JPEG-encode every frame, even stored JPEGs that could go as they are")
        group.add_argument("--video-mode", choices=VIDEO_MODES, default="images",
                           help="openai: images = each frame an image_url part (default); video = the sampled "
                                "frames as one video_url part (H.264 MP4), for servers that take video (vLLM)")
        group.add_argument("--video-fps", type=float, default=1.0,
                           help="openai --video-mode video: frame rate for frames whose times are unknown (default 1)")
        group.add_argument("--video-crf", type=int, default=18,
                           help="openai --video-mode video: H.264 quality, lower is better (default 18)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "OpenAIModel":
        if not getattr(args, "base_url", None):
            raise ModelConfigError("--model openai needs --base-url (e.g. http://127.0.0.1:8000/v1)")
        if not getattr(args, "model_name", None):
            raise ModelConfigError("--model openai needs --model-name (the name the server serves)")
        concurrency = args.concurrency if getattr(args, "concurrency", None) else 8
        client = OpenAIChatClient(
            args.base_url,
            args.model_name,
            api_key=_api_key(getattr(args, "api_key_env", None), "--api-key-env"),
            timeout=args.timeout,
            max_retries=args.max_retries,
            backoff=args.retry_backoff,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            seed=getattr(args, "seed", 0),
            pool_size=concurrency,
        )
        return cls(client, concurrency=concurrency, jpeg_quality=args.jpeg_quality,
                   max_image_side=getattr(args, "max_image_side", None),
                   reencode_images=getattr(args, "reencode_images", False),
                   video_mode=getattr(args, "video_mode", "images"), video_fps=getattr(args, "video_fps", 1.0),
                   video_crf=getattr(args, "video_crf", 18))

    def messages(self, prompt: str, images: Sequence[ImageLike]) -> list[dict]:
        """The chat messages of one item (`build_messages` with this model's settings)."""
        return build_messages(prompt, images, self.jpeg_quality, max_side=self.max_image_side,
                              reencode=self.reencode_images, video=self.video_mode == "video",
                              fallback_fps=self.video_fps, crf=self.video_crf)

    def generate(self, prompt: str, images: Sequence[ImageLike], item: BenchItem) -> str:
        try:
            messages = self.messages(prompt, images)
        except MediaError as e:
            raise MediaError(f"item {item.id}: {e}") from e
        return self.client.chat(messages)

    def describe(self) -> dict[str, Any]:
        return {
            "model": "openai",
            "base_url": self.client.base_url,
            "model_name": self.client.model_name,
            "served": self.served,
            "temperature": self.client.temperature,
            "max_tokens": self.client.max_tokens,
            "requests": dict(self.client.stats),
            # what the model is shown; only when not the default, so runs made before these flags resume
            **({"video_mode": self.video_mode, "video_fps": self.video_fps} if self.video_mode != "images" else {}),
            **({"max_image_side": self.max_image_side} if self.max_image_side is not None else {}),
        }

    def close(self) -> None:
        self.client.close()
