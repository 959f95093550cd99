"""predictions.jsonl: the one reader (and appender) of model responses, for every verb.

One JSON object per line:

    {"id": "<item id>", "response": "<raw model text>"}                  an answer
    {"id": "<item id>", "response": null, "error": "<why it failed>"}   an item that failed

`qa4d eval` appends to RUN/predictions.jsonl while it runs and reads it to resume and to score;
`qa4d score --predictions` reads the same format from any tool. Both use `read_predictions_file`,
so they always agree on what a file says.

Rule for an id on several lines (docs/evaluation.md): **the last complete answer wins**, and an
error line counts only while the id has no answer (an answer is never replaced by an error).
Appending writers (qa4d eval, a user's retry script) add a line when they asked again, so the last
line is the latest request; keeping the first would make a retry never count. Every answer that
a later line replaces is reported in `problems` with both line numbers, so a file that holds two
different answers for one item is never used silently.

Other lines: a truncated last line (a writer killed mid-line) is dropped and its item counts as
missing; a line that is not JSON, not UTF-8, has no string (or integer) `id`, or has neither a
`response` string nor an `error` is dropped and reported with its line number. Blank lines are
ignored. A complete last line without its newline is kept (`unterminated`).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from qa4d._io import write_bytes_atomic

PREDICTIONS = "predictions.jsonl"


@dataclass
class Predictions:
    """What a predictions file says, after the duplicate rule (see the module docstring)."""

    responses: dict[str, str] = field(default_factory=dict)  # id -> response text
    errors: dict[str, str] = field(default_factory=dict)     # id -> error (only ids without a response)
    lines: dict[str, bytes] = field(default_factory=dict)    # id -> the line kept for it (with newline)
    problems: list[str] = field(default_factory=list)        # "PATH:LINE: what is wrong", in file order
    unterminated: bool = False                               # the last line is complete but has no newline

    @property
    def needs_rewrite(self) -> bool:
        """True when the file is not exactly one clean, newline-terminated line per id."""
        return bool(self.problems) or self.unterminated


def _parse(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """(record, "") or (None, what is wrong) for one line."""
    try:
        rec = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not valid UTF-8"
    except json.JSONDecodeError as e:
        return None, f"not valid JSON ({e.msg})"
    if not isinstance(rec, dict) or "id" not in rec:
        return None, "expected an object with an 'id'"
    rid = rec["id"]
    if isinstance(rid, bool) or not isinstance(rid, (str, int)):
        return None, f"'id' must be a string, got {type(rid).__name__}"
    rec["id"] = str(rid)
    if not isinstance(rec.get("response"), str) and rec.get("error") is None:
        return None, f"id {rec['id']!r} has neither a 'response' string nor an 'error'"
    return rec, ""


# orjson reads a line in a quarter of json's time; it refuses a few things json accepts (NaN, lone
# surrogates, numbers beyond 64 bits), and such a line, like any line it refuses, is read again
# by `_parse` (json), so every line gets json's reading and json's message. None: json only.
_fast_loads = orjson.loads


def read_predictions_file(path: str | os.PathLike[str], *, missing_ok: bool = False,
                          keep_lines: bool = True) -> Predictions:
    """Parse a predictions.jsonl under the one duplicate rule (module docstring), one line at a time.

    A missing file raises FileNotFoundError naming it, or gives an empty result with `missing_ok`.
    keep_lines=False leaves `lines` empty (a reader that will not rewrite the file: `qa4d score`).
    """
    path = Path(path)
    state = Predictions()
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        if missing_ok:
            return state
        raise FileNotFoundError(f"{path}: predictions file not found") from None
    with f:
        _read_lines(f, path, state, keep_lines)
    return state


def _read_lines(f, path: Path, state: Predictions, keep_lines: bool) -> None:
    answered_on: dict[str, int] = {}  # id -> line number of its kept answer
    responses, errors, lines = state.responses, state.errors, state.lines
    fast = _fast_loads
    for lineno, raw in enumerate(f, 1):
        is_tail = raw[-1:] != b"\n"  # only the last line can lack its newline
        if fast is not None:
            try:
                rec = fast(raw)  # a trailing newline is whitespace to the parser
            except orjson.JSONDecodeError:
                rec = None
            # the common line, {"id": str, "response": str, ...}, is taken as it is
            if type(rec) is dict:
                rid, response = rec.get("id"), rec.get("response")
            else:
                rid = response = None
            if type(rid) is str and type(response) is str:
                if rid in answered_on:
                    state.problems.append(
                        f"{path}:{lineno}: id {rid!r} answered again; this answer replaces the one on line "
                        f"{answered_on[rid]} (the last answer wins)")
                if errors:
                    errors.pop(rid, None)
                responses[rid] = response
                if keep_lines:
                    lines[rid] = raw + b"\n" if is_tail else raw
                answered_on[rid] = lineno
                if is_tail:
                    state.unterminated = True
                continue
        if not is_tail:
            raw = raw[:-1]
        if not raw.strip():
            continue
        rec, why = _parse(raw)
        if rec is None:
            if is_tail:
                state.problems.append(f"{path}:{lineno}: truncated last line skipped (an interrupted writer)")
            else:
                state.problems.append(f"{path}:{lineno}: {why}; line skipped")
            continue
        if is_tail:
            state.unterminated = True
        rid = rec["id"]
        response = rec.get("response")
        if isinstance(response, str):
            if rid in answered_on:
                state.problems.append(
                    f"{path}:{lineno}: id {rid!r} answered again; this answer replaces the one on line "
                    f"{answered_on[rid]} (the last answer wins)")
            responses[rid] = response
            errors.pop(rid, None)
            if keep_lines:
                lines[rid] = raw + b"\n"
            answered_on[rid] = lineno
        elif rid in answered_on:
            state.problems.append(
                f"{path}:{lineno}: error line for id {rid!r} ignored: line {answered_on[rid]} answered it")
        else:
            errors[rid] = str(rec["error"])
            if keep_lines:
                lines[rid] = raw + b"\n"


def rewrite_predictions(path: str | os.PathLike[str], state: Predictions, keep: set[str] | None = None) -> int:
    """Atomically rewrite `path` as one line per id of `state` (only ids in `keep`, if given), in
    the order the ids first appeared. Returns the number of lines written."""
    kept = [line for rid, line in state.lines.items() if keep is None or rid in keep]
    write_bytes_atomic(path, b"".join(kept))
    return len(kept)


class PredictionWriter:
    """Appends one JSON line per record: one os.write + fsync under a lock, so a kill at any
    moment leaves every earlier line whole and at most the last one truncated. A new file gets
    mode 0666 & ~umask, like every file qa4d writes."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        self._lock = threading.Lock()

    def append(self, record: dict[str, Any]) -> None:
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            try:
                view = memoryview(data)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
                os.fsync(self._fd)
            except OSError as e:  # e.g. a full disk: the message names the file
                if e.filename is None:
                    e.filename = str(self.path)
                raise

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
