"""audiomentations, imported one transform at a time.

``import audiomentations`` runs a package ``__init__.py`` that imports all ~40 transforms, and
scipy.signal with them: 0.6 s, most of a short run's start-up, paid again by every process that
runs items. A run needs only the transforms its config names, so :func:`load_audiomentations`
puts the package in ``sys.modules`` without running that file: each name it exports imports its
own module on first use (PEP 562). Anything else asked of the package runs the file, after
which the package is the ordinary one. The imports happen with the process's warning filters
kept as they were (scipy adds filters of its own when imported).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import pathlib
import sys
import threading
import types
import warnings
from collections.abc import Callable
from functools import cache
from typing import Any, TypeVar

_load_lock = threading.RLock()
T = TypeVar("T")


def exports() -> dict[str, str]:
    """audiomentations' public names -> the module that defines each."""
    return _read_init()[0]


@cache
def _read_init() -> tuple[dict[str, str], dict[str, Any]]:
    """What audiomentations' ``__init__.py`` imports from where, and the constants it sets
    (``__version__``), read without running it: running it imports every transform, and
    scipy.signal with them (0.6 s)."""
    spec = importlib.util.find_spec("audiomentations")
    exports: dict[str, str] = {}
    constants: dict[str, Any] = {}
    if spec is None or spec.origin is None:
        return exports, constants
    for statement in ast.parse(pathlib.Path(spec.origin).read_text(encoding="utf-8")).body:
        if isinstance(statement, ast.ImportFrom) and statement.module:
            module = (f"audiomentations.{statement.module}" if statement.level == 1
                      else statement.module if statement.level == 0 else "")
            if module.startswith("audiomentations."):
                exports.update({alias.asname or alias.name: module for alias in statement.names})
        elif (isinstance(statement, ast.Assign) and len(statement.targets) == 1
              and isinstance(statement.targets[0], ast.Name) and isinstance(statement.value, ast.Constant)):
            constants[statement.targets[0].id] = statement.value.value
    return exports, constants


def load_audiomentations() -> types.ModuleType:
    """The audiomentations package (already imported, or the one whose names load on first use).

    If its ``__init__.py`` is not the list of imports it has always been, the package is imported
    the ordinary way.
    """
    with _load_lock:
        loaded = sys.modules.get("audiomentations")
        if loaded is not None:
            return loaded
        spec = importlib.util.find_spec("audiomentations")
        if not exports() or spec is None or spec.loader is None:
            return quietly(lambda: importlib.import_module("audiomentations"))
        package = importlib.util.module_from_spec(spec)
        whole = _WholePackage(package, spec.loader)
        package.__getattr__ = whole.getattr  # type: ignore[method-assign]  # PEP 562
        package.__dir__ = whole.dir  # type: ignore[method-assign]
        vars(package).update(_read_init()[1])
        sys.modules["audiomentations"] = package
        return package


class _WholePackage:
    """The lazy package's module ``__getattr__`` and ``__dir__``."""

    def __init__(self, package: types.ModuleType, loader: Any):
        self.package, self.loader, self.ran, self.lock = package, loader, False, threading.Lock()

    def getattr(self, name: str) -> Any:
        module = exports().get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            setattr(self.package, name, value)
            return value
        if name.startswith("__") and name.endswith("__"):  # a probe (pickle, inspect, ...), not a name
            if name == "__all__":  # `from audiomentations import *` then takes every name in the package
                self.run_init()
            raise AttributeError(name)
        self.run_init()
        try:
            return self.package.__dict__[name]
        except KeyError:
            raise AttributeError(f"module 'audiomentations' has no attribute {name!r}") from None

    def dir(self) -> list[str]:
        self.run_init()
        return sorted(self.package.__dict__)

    def run_init(self) -> None:
        with self.lock:
            if not self.ran:
                self.ran = True
                try:
                    self.loader.exec_module(self.package)
                except BaseException:
                    self.ran = False
                    raise


def quietly(load: Callable[[], T]) -> T:
    """``load()`` with the process's warning filters kept as they were: importing scipy adds
    filters of its own for as long as the process lives. One import at a time."""
    with _load_lock, warnings.catch_warnings():
        return load()
