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
from typing import Any, Sequence

from qa4d.bench.media import MediaError
from qa4d.bench.models.base import ImageLike, Model, ModelConfigError
from qa4d.bench.models.openai_client import OpenAIChatClient, api_key_from_env
from qa4d.bench.models.openai_messages import build_messages
from qa4d.bench.registry import register_model
from qa4d.bench.types import BenchItem

VIDEO_MODES = ("images", "video")


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
        if int(concurrency) < 1:
            raise ModelConfigError(f"--concurrency must be at least 1, got {concurrency}")
        self.client = client
        self.concurrency = int(concurrency)
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
        concurrency = 8 if getattr(args, "concurrency", None) is None else args.concurrency
        if concurrency < 1:  # before the client opens a pool for it
            raise ModelConfigError(f"--concurrency must be at least 1, got {concurrency}")
        client = OpenAIChatClient(
            args.base_url,
            args.model_name,
            api_key=api_key_from_env(getattr(args, "api_key_env", None), "--api-key-env"),
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
