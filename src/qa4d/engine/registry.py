"""Registry of question tasks, grouped in families.

A task is a class decorated with `@register_task`; adding a question type is one new file in
`qa4d/engine/families/<family>/`. A family is a sub-package of `qa4d.engine.families` whose
`__init__` imports its task modules; `load_family(name)` imports it on demand, so the registry
is filled lazily and `qa4d audit` sees exactly the tasks `qa4d generate` used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from qa4d.engine.families.base import Task

# Family name as written in records -> python sub-package of qa4d.engine.families.
FAMILY_PACKAGES: dict[str, str] = {"4dpqa": "fourdpqa"}

_TASKS: dict[tuple[str, str], "type[Task]"] = {}

T = TypeVar("T")


class RegistryError(KeyError):
    """Unknown family or task."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


def register_task(cls: T) -> T:
    """Class decorator: register a Task subclass under (cls.family, cls.name)."""
    key = (cls.family, cls.name)  # type: ignore[attr-defined]
    if key in _TASKS and _TASKS[key] is not cls:
        raise RegistryError(f"task {key[1]!r} of family {key[0]!r} is registered twice")
    _TASKS[key] = cls  # type: ignore[assignment]
    return cls


def load_family(family: str) -> None:
    package = FAMILY_PACKAGES.get(family, family)
    try:
        importlib.import_module(f"qa4d.engine.families.{package}")
    except ModuleNotFoundError as e:
        if e.name and e.name.endswith(package):
            raise RegistryError(f"unknown question family {family!r} (known: {', '.join(FAMILY_PACKAGES)})") from e
        raise


def family_tasks(family: str) -> list[str]:
    """Task names of a family, in registration (= documentation) order."""
    load_family(family)
    return [name for (fam, name) in _TASKS if fam == family]


def get_task(family: str, name: str) -> "Task":
    load_family(family)
    try:
        return _TASKS[(family, name)]()
    except KeyError:
        raise RegistryError(
            f"unknown task {name!r} in family {family!r} (known: {', '.join(family_tasks(family))})"
        ) from None


def resolve_tasks(families: list[str], tasks: list[str] | None = None) -> list["Task"]:
    """Task instances for the given families, optionally restricted to `tasks` (names)."""
    out = []
    known: list[str] = []
    for fam in families:
        for name in family_tasks(fam):
            known.append(name)
            if tasks is None or name in tasks:
                out.append(get_task(fam, name))
    if tasks is not None:
        missing = [t for t in tasks if t not in known]
        if missing:
            raise RegistryError(f"unknown task(s) {', '.join(missing)} (known: {', '.join(known)})")
    return out

