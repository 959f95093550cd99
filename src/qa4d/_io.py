"""Low-level file helpers shared by every stage: atomic writes and JSON lines.

Every file qa4d writes goes through `write_bytes_atomic`: the bytes go to a hidden temporary file
in the target's directory (`.NAME.<random>.tmp`), are flushed and fsynced, get the permissions the
process umask gives a new file, and replace the target in one `os.replace`. A reader therefore
sees either the old file or the new one, never a part. A crash can leave a temporary file behind;
`remove_stale_temporaries` clears them when a job resumes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

TMP_SUFFIX = ".tmp"


def _umask() -> int:
    # os.umask can only be read by setting it; set it straight back (no thread writes files meanwhile
    # in qa4d, and the value is cached after the first call).
    global _UMASK
    if _UMASK is None:
        current = os.umask(0o022)
        os.umask(current)
        _UMASK = current
    return _UMASK


_UMASK: int | None = None


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, os.replace), mode 0666 & ~umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_text_atomic(path: str | os.PathLike[str], text: str, *, fsync: bool = True) -> None:
    write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)


def dumps_json(data: Any, indent: int | None = 2) -> str:
    """Canonical JSON text: UTF-8, no NaN/Infinity (they are not JSON), trailing newline."""
    return json.dumps(data, indent=indent, ensure_ascii=False, allow_nan=False) + "\n"


def write_json_atomic(path: str | os.PathLike[str], data: Any, indent: int | None = 2) -> None:
    write_text_atomic(path, dumps_json(data, indent))


def jsonl_line(record: Any) -> str:
    """One JSON-lines row (no newline); NaN is refused because JSON has no such value."""
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": "), allow_nan=False)


def write_jsonl_atomic(path: str | os.PathLike[str], records: Iterable[Any]) -> int:
    """Write records as JSON lines atomically; returns the number written."""
    lines = [jsonl_line(r) + "\n" for r in records]
    write_text_atomic(path, "".join(lines))
    return len(lines)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[tuple[int, Any]]:
    """(line number, parsed value) for each non-blank line. A bad line raises ValueError naming it."""
    path = Path(path)
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None


def remove_stale_temporaries(root: str | os.PathLike[str]) -> int:
    """Delete `.NAME.*.tmp` files that an interrupted atomic write left under `root`; returns the count."""
    n = 0
    for p in Path(root).rglob(f".*{TMP_SUFFIX}"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n


def resolve_inside(root: str | os.PathLike[str], rel: Any) -> Path:
    """`root / rel` after checking that it stays inside `root`; raises ValueError otherwise.

    `rel` must be a non-empty relative path (str or PathLike) without `..` components, and the
    joined path, with every symlink resolved, must be `root` itself or lie below it (so a symlink
    inside the root that points elsewhere is refused too). Every verb that reads a path named in a
    data file (scene frames, dataset media, prefix images) goes through this one check. The
    returned path is the plain join `root / rel` (symlinks not expanded), for messages.
    """
    if not isinstance(rel, (str, os.PathLike)):
        raise ValueError(f"path must be a string, got {type(rel).__name__} {rel!r}")
    text = os.fspath(rel)
    if not isinstance(text, str) or not text or "\x00" in text:
        raise ValueError(f"path must be a non-empty string, got {text!r}")
    p = Path(text)
    if p.is_absolute():
        raise ValueError(f"path {text!r} is absolute; it must be relative to {root}")
    if ".." in p.parts:
        raise ValueError(f"path {text!r} goes up with '..'; it must stay inside {root}")
    base = Path(root).resolve()
    full = (base / p).resolve()
    if full != base and base not in full.parents:
        raise ValueError(f"path {text!r} leads outside {root} (to {full}, through a symlink)")
    return Path(root) / p
