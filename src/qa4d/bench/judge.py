"""Optional LLM judge for responses the extraction rules cannot parse.

VLM4D grades with an LLM because chain-of-thought answers mention several options on the way.
qa4d keeps rule-based extraction first (exact, free, reproducible) and asks the judge only about
what the rules leave unparsed. The judge sees the question, the options and the response, and
must reply with one option letter (mc), yes/no (yesno), one number (number/scalar), or NONE
when the response commits to no single answer. Its verdict becomes an `Extraction` with rule
"judge" (value None when it says NONE), and scoring marks the item as judged.

    judge = LLMJudge.from_args(args)        # --judge openai --judge-base-url ... --judge-model ...
    ex = judge(item, response_text)         # Extraction(value="B", rule="judge", text=<judge reply>)
"""

from __future__ import annotations

import argparse
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tqdm import tqdm

from qa4d.answers import find_format, get_format
from qa4d.bench.models.base import ModelConfigError, ModelError
from qa4d.bench.models.openai_client import OpenAIChatClient, api_key_from_env
from qa4d.bench.types import BenchItem, Extraction


def judged(fmt: str) -> bool:
    """Whether replies of answer format `fmt` can be judged (its `AnswerFormat.judge_instruction`)."""
    f = find_format(fmt)
    return f is not None and f.judge_instruction is not None


def judge_prompt(item: BenchItem, response: str) -> str:
    """The text sent to the judge for one item."""
    lines = [
        "You grade answers of a vision-language model. Do not solve the question yourself; only read off "
        "which answer the model's response gives.",
        "",
        f"Question: {item.question.strip()}",
    ]
    if item.options:
        lines.append("Options:")
        lines.extend(f"{k}. {v}" for k, v in item.options.items())
    lines += ["", "Model response:", '"""', response.strip(), '"""', ""]
    letters = ", ".join(item.options or {})
    instruction = get_format(item.answer_format).judge_instruction
    lines.append(instruction.format(letters=letters, unit=item.meta.get("unit") or "the question's unit"))
    lines.append("Reply with that one token only.")
    return "\n".join(lines)


def parse_verdict(item: BenchItem, reply: str) -> Any | None:
    """The judge's verdict as an answer value, or None for NONE or anything off-format."""
    token = reply.strip().strip("`*\"'. ").strip()
    if not token or token.upper() == "NONE":
        return None
    fmt = find_format(item.answer_format)
    return fmt.read_verdict(token, item) if fmt is not None else None


class LLMJudge:
    """Maps an unparsed response to an answer with an OpenAI-compatible chat model. Thread-safe;
    verdicts are cached per (item id, response) so scoring a run twice asks once."""

    def __init__(self, client: OpenAIChatClient):
        self.client = client
        self._cache: dict[tuple[str, str], Extraction] = {}
        self._lock = threading.Lock()
        self.calls = 0

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        g = parser.add_argument_group("LLM judge (for responses the rules cannot parse)")
        g.add_argument("--judge", choices=["openai"], help="judge backend: an OpenAI-compatible chat server")
        g.add_argument("--judge-base-url", help="judge server base URL, e.g. http://127.0.0.1:8001/v1")
        g.add_argument("--judge-model", help="judge model name")
        g.add_argument("--judge-api-key-env", metavar="VAR", help="environment variable holding the judge's API key")
        g.add_argument("--judge-timeout", type=float, default=60.0, help="seconds per judge request (default 60)")
        g.add_argument("--judge-max-retries", type=int, default=5, help="judge retries (default 5)")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "LLMJudge | None":
        if not getattr(args, "judge", None):
            if getattr(args, "judge_base_url", None) or getattr(args, "judge_model", None):
                raise ModelConfigError("--judge-base-url/--judge-model given without --judge openai")
            return None
        if not args.judge_base_url or not args.judge_model:
            raise ModelConfigError("--judge openai needs --judge-base-url and --judge-model")
        client = OpenAIChatClient(
            args.judge_base_url,
            args.judge_model,
            api_key=api_key_from_env(args.judge_api_key_env, "--judge-api-key-env"),
            timeout=args.judge_timeout,
            max_retries=args.judge_max_retries,
            backoff=getattr(args, "retry_backoff", 1.0),
            max_tokens=16,
            temperature=0.0,
            seed=getattr(args, "seed", 0),
            flag_prefix="--judge-",
        )
        client.check()
        return cls(client)

    def __call__(self, item: BenchItem, response: str | None) -> Extraction:
        return self.judge(item, response)

    def judge(self, item: BenchItem, response: str | None) -> Extraction:
        """Ask the judge about one response. Formats it cannot judge, empty responses and judge
        failures come back unparsed (rule "judge", value None, the reason in `text`)."""
        if not judged(item.answer_format):
            return Extraction(None, "judge", f"format {item.answer_format!r} is not judged")
        if not response or not response.strip():
            return Extraction(None, "judge", "empty response")
        key = (item.id, response)
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return hit
        try:
            reply = self.client.chat([{"role": "user", "content": judge_prompt(item, response)}])
        except ModelError as e:
            return Extraction(None, "judge", f"judge failed: {e}")
        with self._lock:
            self.calls += 1
        ex = Extraction(parse_verdict(item, reply), "judge", reply.strip())
        with self._lock:
            self._cache[key] = ex
        return ex

    def prefetch(self, pairs: list[tuple[BenchItem, str]], workers: int = 8) -> None:
        """Judge many (item, response) pairs concurrently so scoring finds the verdicts cached."""
        todo = [(it, r) for it, r in pairs if judged(it.answer_format) and r and r.strip()]
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="qa4d-judge") as ex:
            for _ in tqdm(ex.map(lambda p: self.judge(*p), todo), total=len(todo), desc="judge",
                          unit="item", disable=None, file=sys.stderr):
                pass

    def close(self) -> None:
        self.client.close()
