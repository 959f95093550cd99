"""Registry of question families and their tasks.

A family is one folder (a Python package) holding its task modules, `templates/<task>.json`,
`thresholds.json` and any vocabulary it needs; its `__init__.py` calls `register_family(...)` and
imports its task modules, whose classes are registered with `@register_task` (docs/engine.md,
"Writing a family").

Families are discovered by scanning the packages under `qa4d/engine/families/` and every folder
named by `add_family_path(dir)`, the environment variable QA4D_FAMILY_PATH (folders separated by
os.pathsep) or `qa4d generate/audit --family-path DIR`: each sub-folder of such a folder holding an
`__init__.py` is a family package. Task names are unique within a family; the pair
(family, task) identifies a task everywhere (records carry both).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, TypeVar

if TYPE_CHECKING:
    from qa4d.engine.kinds.base import Task

ENV_PATH = "QA4D_FAMILY_PATH"
_BUILTIN = Path(__file__).with_name("families")

T = TypeVar("T")


class RegistryError(KeyError):
    """Unknown family or task."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class Family:
    """A question family: its name (as written in records), its folder and its data.

    root: the family's folder, holding templates/<task>.json and thresholds.json.
    categories: the category names its templates may use.
    thresholds_class: frozen dataclass of its thresholds (None: typed from the default block).
    slots: template slots of its own, on top of the engine's (templates.SLOTS).
    """

    name: str
    root: Path
    categories: tuple[str, ...]
    thresholds_class: type | None = None
    slots: tuple[str, ...] = ()
    doc: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def thresholds_file(self) -> Path:
        return self.root / "thresholds.json"

    def thresholds(self, source: str = "default", overrides: Mapping[str, Any] | None = None) -> Any:
        """The family's thresholds for scenes of `source` (see engine/thresholds.py)."""
        from qa4d.engine.thresholds import load_thresholds_file

        return load_thresholds_file(self.thresholds_file, source, overrides, self.thresholds_class)


_FAMILIES: dict[str, Family] = {}
_TASKS: dict[tuple[str, str], "type[Task]"] = {}
_PATHS: list[Path] = []
_scanned: set[str] = set()


def register_family(name: str, root: str | Path, categories: tuple[str, ...] | list[str], **kw: Any) -> Family:
    """Declare a family (call it in the family's __init__.py, before importing its tasks)."""
    fam = Family(name=name, root=Path(root), categories=tuple(categories), **kw)
    old = _FAMILIES.get(name)
    if old is not None and old.root.resolve() != fam.root.resolve():
        raise RegistryError(f"family {name!r} is defined twice ({old.root} and {fam.root})")
    _FAMILIES[name] = fam
    return fam


def register_task(cls: T) -> T:
    """Class decorator: register a Task subclass under (cls.family, cls.name)."""
    key = (cls.family, cls.name)  # type: ignore[attr-defined]
    if key[0] not in _FAMILIES:
        raise RegistryError(f"task {key[1]!r}: family {key[0]!r} is not registered (call register_family first)")
    if key in _TASKS and _TASKS[key] is not cls:
        raise RegistryError(f"task {key[1]!r} of family {key[0]!r} is registered twice")
    _TASKS[key] = cls  # type: ignore[assignment]
    return cls


def add_family_path(directory: str | Path) -> None:
    """Add a folder whose sub-packages are families (scanned on the next lookup)."""
    p = Path(directory).resolve()
    if not p.is_dir():
        raise RegistryError(f"family path {directory}: not a directory")
    if p not in _PATHS:
        _PATHS.append(p)


def _import_external(pkg_dir: Path) -> None:
    name = f"qa4d_family_{abs(hash(str(pkg_dir))):x}_{pkg_dir.name}"
    if name in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(name, pkg_dir / "__init__.py", submodule_search_locations=[str(pkg_dir)])
    if spec is None or spec.loader is None:
        raise RegistryError(f"{pkg_dir}: cannot import family package")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise


def _scan() -> None:
    """Import every family package not imported yet (built-in, then the family paths)."""
    if "builtin" not in _scanned:
        _scanned.add("builtin")
        for info in pkgutil.iter_modules([str(_BUILTIN)]):
            if info.ispkg:
                importlib.import_module(f"qa4d.engine.families.{info.name}")
    env = [p for p in os.environ.get(ENV_PATH, "").split(os.pathsep) if p]
    for d in env:
        add_family_path(d)
    for root in list(_PATHS):
        if str(root) in _scanned:
            continue
        _scanned.add(str(root))
        for sub in sorted(root.iterdir()):
            if (sub / "__init__.py").is_file():
                _import_external(sub)


def families() -> dict[str, Family]:
    """Every known family, by name."""
    _scan()
    return dict(_FAMILIES)


def get_family(name: str) -> Family:
    _scan()
    try:
        return _FAMILIES[name]
    except KeyError:
        raise RegistryError(f"unknown question family {name!r} (known: {', '.join(_FAMILIES)})") from None


def load_family(family: str) -> None:
    get_family(family)


def family_tasks(family: str) -> list[str]:
    """Task names of a family, in registration (= documentation) order."""
    get_family(family)
    return [name for (fam, name) in _TASKS if fam == family]


def get_task(family: str, name: str) -> "Task":
    get_family(family)
    try:
        return _TASKS[(family, name)]()
    except KeyError:
        raise RegistryError(
            f"unknown task {name!r} in family {family!r} (known: {', '.join(family_tasks(family))})"
        ) from None


def resolve_tasks(families: list[str], tasks: list[str] | None = None) -> list["Task"]:
    """Task instances for the given families, optionally restricted to `tasks`.

    A task is named `task` (searched in every given family) or `family/task`.
    """
    out = []
    known: list[str] = []
    wanted = set(tasks or ())
    for fam in families:
        for name in family_tasks(fam):
            known.append(f"{fam}/{name}")
            if tasks is None or name in wanted or f"{fam}/{name}" in wanted:
                out.append(get_task(fam, name))
    if tasks is not None:
        short = {k.split("/", 1)[1] for k in known}
        missing = [t for t in tasks if t not in short and t not in known]
        if missing:
            raise RegistryError(f"unknown task(s) {', '.join(missing)} (known: {', '.join(known)})")
    return out


def thresholds_for(family: str, source: str, overrides: Mapping[str, Any] | None = None) -> Any:
    """A family's thresholds for scenes of `source`. `overrides` (GenerateConfig.thresholds) is
    either one flat block applied to every family, or {family: block} per family."""
    if overrides and any(k in families() for k in overrides):
        overrides = overrides.get(family)
    return get_family(family).thresholds(source, overrides)
