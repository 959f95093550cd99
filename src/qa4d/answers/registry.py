"""The registry of answer formats: `@register_format("name")` on an AnswerFormat subclass.

Every module of this package is imported the first time the registry is asked, so a format of
the package is one new file here; a format defined elsewhere (a plug-in, a test) registers when
its module is imported. Formats are listed by their `order` (then by name): the package's own
come first, in the order of the record schema.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Callable, TypeVar

from qa4d.answers.base import AnswerFormat

T = TypeVar("T", bound=type)

_FORMATS: dict[str, AnswerFormat] = {}
_loaded = False
_version = 0  # bumped on every change, for caches derived from the registry (the schema validator)


def register_format(name: str, order: int = 100) -> Callable[[T], T]:
    """Class decorator: register one instance of the AnswerFormat subclass under `name`."""
    def deco(cls: T) -> T:
        global _version
        if not (isinstance(cls, type) and issubclass(cls, AnswerFormat)):
            raise TypeError(f"answer format {name!r}: {cls!r} is not an AnswerFormat subclass")
        old = _FORMATS.get(name)
        if old is not None and type(old).__qualname__ != cls.__qualname__:
            raise ValueError(f"answer format {name!r} is registered twice ({type(old).__module__}, {cls.__module__})")
        cls.name = name
        cls.order = order
        _FORMATS[name] = cls()
        _version += 1
        return cls

    return deco


def unregister_format(name: str) -> None:
    """Remove a format (for tests that register a toy one)."""
    global _version
    _FORMATS.pop(name, None)
    _version += 1


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    pkg = importlib.import_module("qa4d.answers")
    for info in pkgutil.iter_modules(pkg.__path__):
        importlib.import_module(f"qa4d.answers.{info.name}")


def get_format(name: str) -> AnswerFormat:
    """The registered format `name`; ValueError naming the known ones otherwise."""
    f = _FORMATS.get(name)
    if f is None:
        _load()
        f = _FORMATS.get(name)
        if f is None:
            raise ValueError(f"unknown answer_format {name!r} (known: {', '.join(format_names())})")
    return f


def find_format(name: str) -> AnswerFormat | None:
    """The registered format `name`, or None."""
    f = _FORMATS.get(name)
    if f is None and not _loaded:
        _load()
        f = _FORMATS.get(name)
    return f


def format_names() -> tuple[str, ...]:
    """The names of all registered formats, in their order."""
    _load()
    return tuple(sorted(_FORMATS, key=lambda n: (_FORMATS[n].order, list(_FORMATS).index(n))))


def formats() -> tuple[AnswerFormat, ...]:
    """All registered formats, in their order."""
    return tuple(_FORMATS[n] for n in format_names())


def version() -> int:
    """A number that changes whenever a format is registered or removed."""
    _load()
    return _version
