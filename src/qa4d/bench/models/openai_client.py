"""The HTTP client of `--model openai` and of the LLM judge: one OpenAI-compatible
`/chat/completions` server, checked at start, with retries (module docstring of
`qa4d.bench.models.openai`: which failures stop the run, which are retried, which fail an item).
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from qa4d.bench.models.base import ModelConfigError, ModelError

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
        if int(max_retries) < 0:
            raise ModelConfigError(f"{flag_prefix or '--'}max-retries must be 0 or more, got {max_retries}")
        if not float(backoff) >= 0:
            raise ModelConfigError(f"--retry-backoff must be 0 or more seconds, got {backoff}")
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
        r = self._get_at_start(url)
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

    def _get_at_start(self, url: str) -> httpx.Response:
        """GET `url`; ModelConfigError when the server cannot be reached (nothing is retried at start)."""
        try:
            return self._http.get(url, timeout=min(self.timeout, 30.0))
        except httpx.ConnectError as e:
            raise ModelConfigError(
                f"cannot connect to {self.base_url} ({e}); is the server running? (check {self._flag or '--'}base-url)"
            ) from None
        except httpx.TimeoutException:
            raise ModelConfigError(f"{url} did not answer within {self.timeout:g} s") from None
        except httpx.TransportError as e:
            raise ModelConfigError(f"cannot reach {url}: {e}") from None

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
        """One POST: the reply's text, or _Retryable / ModelError / ModelConfigError."""
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
        self._check_status(url, r)
        return _reply_text(r)

    def _check_status(self, url: str, r: httpx.Response) -> None:
        """Raise for an HTTP error status: retryable (429, 5xx, ...), the configuration's fault
        (401/403, 404/405 and 501: no chat API or no such model there) or the item's (other 4xx)."""
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

    def close(self) -> None:
        self._http.close()


def api_key_from_env(var: str | None, flag: str) -> str | None:
    """The API key held by environment variable `var` (None when no variable is named);
    ModelConfigError naming `flag` when the variable is empty or unset."""
    if not var:
        return None
    key = os.environ.get(var)
    if not key:
        raise ModelConfigError(f"{flag} names ${var}, but that environment variable is empty or unset")
    return key


def _reply_text(r: httpx.Response) -> str:
    """The assistant text of a successful reply; _Retryable when it is not a chat completion with
    text (not JSON, no choices[0].message, no text, only white space)."""
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
