"""The config checker: one object that collects every problem with its place and line, and the
checks of single values that every section uses. The sections (:mod:`audioaug_cli.config.sections`) and the pipeline
entries (:mod:`audioaug_cli.config.entries`) are plain functions that take it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from audioaug_cli.config.model import Place
from audioaug_cli.errors import Problem, kind, location, suggest


class Checker:
    """Problems found in one config document, each located by its place in the YAML node tree."""

    def __init__(self, root: yaml.Node | None, base_dir: Path):
        self.root = root
        self.base_dir = base_dir  # the config file's folder: where sounds_path and ir_path start
        self.problems: list[Problem] = []
        if root is not None:
            self._check_duplicate_keys(root, ())

    def problem(self, path: Place, message: str, key_line: bool = False) -> None:
        """Record a problem at ``path``; ``key_line``: on the line of the key rather than its value."""
        self.problems.append(Problem(location(path), message, self._line(path, key_line)))

    def _line(self, path: Place, key_line: bool) -> int | None:
        node = self.root
        key_node = None
        for part in path:
            if isinstance(node, yaml.MappingNode):
                match = [(k, v) for k, v in node.value if k.value == part]
                if not match:
                    break
                key_node, node = match[-1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                key_node, node = None, node.value[part]
            else:
                break
        chosen = key_node if key_line and key_node is not None else node
        return chosen.start_mark.line + 1 if chosen is not None else None

    def _check_duplicate_keys(self, node: yaml.Node, path: Place) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for k, v in node.value:
                if k.value in seen:
                    self.problems.append(
                        Problem(
                            location((*path, k.value)), "duplicate key; each key may appear once", k.start_mark.line + 1
                        )
                    )
                seen.add(k.value)
                self._check_duplicate_keys(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._check_duplicate_keys(v, (*path, i))

    # -- single values ---------------------------------------------------------------------
    def unknown_keys(self, data: dict[str, Any], path: Place, valid: tuple[str, ...] | list[str]) -> None:
        for key in data:
            if key not in valid:
                hint = suggest(str(key), valid) or f" (expected {', '.join(valid)})"
                self.problem((*path, key), f"unknown key{hint}", key_line=True)

    def integer(
        self, data: dict[str, Any], path: Place, key: str, default: Any, minimum: int, maximum: int | None = None
    ) -> Any:
        value = data.get(key, default)
        if value is default:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem((*path, key), f"expected an integer, found {kind(value)}")
            return default
        if value < minimum:
            self.problem((*path, key), f"must be at least {minimum}, found {value}")
            return default
        if maximum is not None and value > maximum:
            self.problem((*path, key), f"must be at most {maximum:,}, found {value:,}")
            return default
        return value

    def number(
        self, data: dict[str, Any], path: Place, key: str, default: Any, minimum: float, above: bool = False
    ) -> Any:
        """A number at least ``minimum`` (greater than it, with ``above``); null only where the default is."""
        value = data.get(key, default)
        if value is default or (value is None and default is None):
            return default
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            self.problem((*path, key), f"expected a number{' or null' if default is None else ''}, found {kind(value)}")
            return default
        if value < minimum or (above and value == minimum):
            self.problem((*path, key), f"must be {'greater than' if above else 'at least'} {minimum}, found {value}")
            return default
        return float(value)

    def choice(self, data: dict[str, Any], path: Place, key: str, default: Any, valid: tuple[Any, ...]) -> Any:
        value = data.get(key, default)
        if any(value is v or (type(value) is type(v) and value == v) for v in valid):
            return value
        shown = " or ".join(kind(v) if not isinstance(v, str) else v for v in valid)
        self.problem(
            (*path, key),
            f"expected {shown}, found {kind(value)}"
            + (suggest(value, [v for v in valid if isinstance(v, str)]) if isinstance(value, str) else ""),
        )
        return default
