"""Low-level file helpers shared by every stage: atomic writes and JSON lines.

Every file qa4d writes goes through `write_bytes_atomic`: the bytes go to a hidden temporary file
in the target's directory (`.NAME.<random>.tmp`), are flushed and fsynced, get the permissions the
process umask gives a new file, and replace the target in one `os.replace`. A reader therefore
sees either the old file or the new one, never a part. A crash can leave a temporary file behind;
`remove_stale_temporaries` clears them when a job resumes. A whole directory written at once
(a scene) is built in a hidden `.NAME.<random>.tmp` directory (`make_temp_dir`) and renamed.

These rules hold for every file qa4d writes (docs/developing.md, "Files"):
- atomic: a reader never sees a partial file; an error or Ctrl-C removes the temporary file;
- durable: the data are fsynced before the rename;
- shared: new files get mode 0666 & ~umask (0644 under umask 022, 0664 under 002), new
  directories 0777 & ~umask, like any tool that creates files with open().
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Iterable, Iterator

TMP_SUFFIX = ".tmp"


def _umask() -> int:
    """The process umask. Linux shows it in /proc/self/status; elsewhere os.umask can only be read
    by setting it, so it is set straight back (once: the value is cached, and qa4d never changes
    its umask)."""
    global _UMASK
    if _UMASK is None:
        try:
            with open("/proc/self/status", encoding="ascii", errors="replace") as f:
                _UMASK = next(int(line.split()[1], 8) for line in f if line.startswith("Umask:"))
        except (OSError, StopIteration, ValueError, IndexError):
            current = os.umask(0o022)
            os.umask(current)
            _UMASK = current
    return _UMASK


_UMASK: int | None = None


@contextmanager
def atomic_file(path: str | os.PathLike[str], *, fsync: bool = True) -> Iterator[IO[bytes]]:
    """A binary file object whose content replaces `path` when the `with` block ends normally.

    The data go to `.NAME.<random>.tmp` beside `path` (same file system, so the rename is atomic),
    are fsynced, get mode 0666 & ~umask and replace `path`. On any exception (an OSError such as
    a full disk, or KeyboardInterrupt) the temporary file is removed and the exception goes on.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; outputs are meant to be shared
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(e, OSError) and e.filename is None:
            e.filename = str(path)  # a failed write (e.g. a full disk) names the file it was writing
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes, *, fsync: bool = True) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, os.replace), mode 0666 & ~umask."""
    with atomic_file(path, fsync=fsync) as f:
        f.write(data)


def copy_file_atomic(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Copy the bytes of `src` to `dst` atomically (streamed, not read into memory)."""
    with open(src, "rb") as fin, atomic_file(dst) as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)


def symlink_atomic(target: str | os.PathLike[str], link: str | os.PathLike[str]) -> None:
    """Make `link` a symbolic link to `target`, replacing what was there in one rename."""
    link = Path(link)
    link.parent.mkdir(parents=True, exist_ok=True)
    tmp = link.with_name(f".{link.name}.{os.getpid()}{TMP_SUFFIX}")
    tmp.unlink(missing_ok=True)
    os.symlink(target, tmp)
    try:
        os.replace(tmp, link)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def make_temp_dir(target: str | os.PathLike[str]) -> Path:
    """A new empty hidden directory `.NAME.<random>.tmp` beside `target` (mode 0777 & ~umask), to
    be filled and renamed onto `target`; `remove_stale_temporaries` finds it if a run dies."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=TMP_SUFFIX, dir=target.parent))
    os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700
    return tmp


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
    """Delete the `.NAME.*.tmp` files and directories that an interrupted write left under `root`
    (symbolic links are not followed out of it); returns how many were removed."""
    root = Path(root)
    if not root.is_dir():
        return 0
    n = 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name in list(dirnames):
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                p = Path(dirpath) / name
                if p.is_symlink():
                    p.unlink(missing_ok=True)
                else:
                    shutil.rmtree(p, ignore_errors=True)
                dirnames.remove(name)
                n += 1
        for name in filenames:
            if name.startswith(".") and name.endswith(TMP_SUFFIX):
                (Path(dirpath) / name).unlink(missing_ok=True)
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
