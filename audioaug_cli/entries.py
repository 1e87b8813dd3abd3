"""Checking pipeline entries: transform names, their parameters' names, types and ranges, nested
compositions, and a trial construction of every transform, each problem with its place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import registry
from .errors import kind, suggest
from .inputs import SoundFolderError, sound_files
from .pipeline import Node

Path_ = tuple[str | int, ...]  # a place in the config: keys and list indices
MAX_NESTING = 32  # levels of nested entries (OneOf in OneOf in ...)
MAX_NAMED = 20  # unusable sound files named one by one


class EntryChecks:
    """The pipeline half of the config checker. Needs ``problem(path, message, key_line)`` and
    ``base_dir`` from the class it is mixed into."""

    base_dir: Path

    def problem(self, path: Path_, message: str, key_line: bool = False) -> None:
        raise NotImplementedError

    def node_list(self, value: Any, here: Path_, spec: bool = False) -> list[Node]:
        """A pipeline: a list of entries (null or absent: none)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(here, f"expected a list of transforms, found {kind(value)}")
            return []
        nodes = [self.entry(e, (*here, i), spec) for i, e in enumerate(value)]
        return [n for n in nodes if n is not None]

    def unknown_keys(self, data: dict[str, Any], path: Path_, valid: tuple[str, ...] | list[str]) -> None:
        for key in data:
            if key not in valid:
                hint = suggest(str(key), valid) or f" (expected {', '.join(valid)})"
                self.problem((*path, key), f"unknown key{hint}", key_line=True)

    def integer(self, data: dict[str, Any], path: Path_, key: str, default: Any, minimum: int,
                maximum: int | None = None) -> Any:
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

    def number(self, data: dict[str, Any], path: Path_, key: str, default: Any, minimum: float,
               above: bool = False) -> Any:
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

    def choice(self, data: dict[str, Any], path: Path_, key: str, default: Any, valid: tuple[Any, ...]) -> Any:
        value = data.get(key, default)
        if any(value is v or (type(value) is type(v) and value == v) for v in valid):
            return value
        shown = " or ".join(kind(v) if not isinstance(v, str) else v for v in valid)
        self.problem((*path, key), f"expected {shown}, found {kind(value)}"
                     + (suggest(value, [v for v in valid if isinstance(v, str)]) if isinstance(value, str) else ""))
        return default

    def entry(self, entry: Any, path: Path_, spec: bool = False) -> Node | None:
        """One pipeline entry -> a normalised node, or None (with problems recorded). ``spec``: an
        entry of the spectrogram pipeline, whose transforms are audioaug's Spec* ones."""
        body: Any
        if isinstance(entry, str):
            name, body = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, body = next(iter(entry.items()))
            body = {} if body is None else body
        else:
            self.problem(path, "expected a transform name, or a mapping of one transform name to its "
                         f"parameters (e.g. PitchShift: {{p: 0.5}}), found {kind(entry)}")
            return None
        if not isinstance(name, str):
            self.problem(path, f"expected a transform name, found {kind(name)}")
            return None
        here = (*path, name)
        depth = 1 + sum(isinstance(part, str) and part[:1].isupper() for part in path)  # the entries above
        if depth > MAX_NESTING:
            self.problem(path, f"transforms are nested more than {MAX_NESTING} levels deep here; "
                         "a pipeline never needs that many")
            return None
        if name in registry.REFUSED:
            self.problem(path, f"{name} is not allowed: {registry.REFUSED[name]}")
            return None
        leaves, others = registry.transform_names(), tuple(registry.spec_transform_classes())
        if spec:
            leaves, others = others, leaves
        if name in others:
            where = "spectrogram.pipeline" if spec else "the waveform pipeline"
            self.problem(path, f"{name} is a {'waveform' if spec else 'spectrogram'} transform: it belongs in "
                         f"{'the top-level pipeline' if spec else 'spectrogram.pipeline'}, not in {where}")
            return None
        if name not in registry.COMPOSITIONS and name not in leaves:
            valid = [*leaves, *registry.COMPOSITIONS]
            self.problem(path, f"unknown transform {name!r}{suggest(name, valid)} "
                         "(`audioaug transforms` lists them)")
            return None
        if not isinstance(body, dict):
            self.problem(here, f"expected a mapping of parameters, found {kind(body)}")
            return None
        if name in registry.COMPOSITIONS:
            return self.composition(name, body, here, spec)
        return self.leaf(name, body, here)

    def composition(self, name: str, body: dict[str, Any], here: Path_, spec: bool) -> Node | None:
        params = {k: v for k, v in body.items() if k != "transforms"}
        checked = self.params(name, params, here, skip=("transforms",))
        children = body.get("transforms")
        if not isinstance(children, list) or not children:
            self.problem((*here, "transforms") if "transforms" in body else here,
                         f"{name} needs 'transforms:', a non-empty list of transforms"
                         + (f", found {kind(children)}" if "transforms" in body else ""))
            return None
        nodes = [self.entry(c, (*here, "transforms", i), spec) for i, c in enumerate(children)]
        children_ok = [n for n in nodes if n is not None]
        if checked is None or len(children_ok) != len(nodes):
            return None
        weights = checked.get("weights")
        if weights is not None and len(weights) != len(nodes):
            self.problem((*here, "weights"), f"expected {len(nodes)} weights, one per transform, found {len(weights)}")
        count = checked.get("num_transforms")
        if count is not None:
            low, high = (count, count) if isinstance(count, int) else (count[0], count[1] or len(nodes))
            if not 0 <= low <= high <= len(nodes):
                self.problem((*here, "num_transforms"), f"must pick between 0 and {len(nodes)} transforms "
                             f"with low <= high, found {kind(count)}")
        return Node(name, checked, tuple(children_ok))

    def leaf(self, name: str, body: dict[str, Any], here: Path_) -> Node | None:
        checked = self.params(name, body, here)
        return None if checked is None else Node(name, checked)

    def params(self, name: str, body: dict[str, Any], here: Path_, skip: tuple[str, ...] = ()) -> dict[str, Any] | None:
        known = registry.params_of(name)
        renamed = registry.RENAMED.get(name, {})
        ok = True
        out: dict[str, Any] = {}
        for key, value in body.items():
            spot = (*here, key)
            if key not in known:
                ok = False
                if key in renamed:
                    self.problem(spot, f"unknown parameter; audiomentations renamed it to {renamed[key]}",
                                 key_line=True)
                else:
                    hint = suggest(str(key), [*known, *skip]) or f" (valid: {', '.join(known)})"
                    self.problem(spot, f"unknown parameter{hint}", key_line=True)
                continue
            param = known[key]
            if param.takes_transform and value is not None:
                nested = self.transform_value(value, spot)
                ok = ok and nested is not None
                out[key] = nested
            elif not registry.check_value(value, param.annotation):
                ok = False
                self.problem(spot, f"expected {registry.describe(param.annotation)}, found {kind(value)}")
            else:
                out[key] = value
        for key, param in known.items():
            if param.required and key not in body and key not in skip:
                ok = False
                self.problem(here, f"missing required parameter {key}")
        if not ok:
            return None
        return out if self.ranges(name, out, here) else None

    def transform_value(self, value: Any, spot: Path_) -> Any:
        """A parameter that takes a transform: one entry, or a list of them (applied as a Compose)."""
        if isinstance(value, list):
            if not value:
                self.problem(spot, "expected a transform or a non-empty list of transforms, found []")
                return None
            nodes = [self.entry(e, (*spot, i)) for i, e in enumerate(value)]
            return None if any(n is None for n in nodes) else nodes
        return self.entry(value, spot)

    def usable_values(self, name: str, params: dict[str, Any], here: Path_) -> bool:
        """Every number finite, and each in the range its transform can use (see :mod:`limits`)."""
        from .limits import relation_problems, value_problem

        defaults = {k: p.default for k, p in registry.params_of(name).items() if not p.required}
        ok = True
        for key, value in params.items():
            problem = value_problem(name, key, value, params, defaults)
            if problem is not None:
                self.problem((*here, key), problem)
                ok = False
        for key, problem in relation_problems(name, params, defaults) if ok else []:
            self.problem((*here, key), problem)
            ok = False
        return ok

    def ranges(self, name: str, params: dict[str, Any], here: Path_) -> bool:
        """p within [0, 1], min_X <= max_X, and paths that exist: what users get wrong most."""
        known = registry.params_of(name)
        ok = self.usable_values(name, params, here)
        if not ok:
            return False
        p = params.get("p")
        if isinstance(p, (int, float)) and not 0 <= p <= 1:
            self.problem((*here, "p"), f"is a probability and must be between 0 and 1, found {p}")
            ok = False
        for key in known:
            if not key.startswith("min_") or "max_" + key[4:] not in known:
                continue
            high_key = "max_" + key[4:]
            low = params.get(key, known[key].default)
            high = params.get(high_key, known[high_key].default)
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
            if numbers and low > high and (key in params or high_key in params):
                shown = key if key in params else high_key
                self.problem((*here, shown), f"{key} ({low}) is greater than {high_key} ({high})")
                ok = False
        for key, value in params.items():
            if key.endswith("_path"):
                ok = self.audio_paths(value, (*here, key)) and ok
        return ok

    def audio_paths(self, value: Any, spot: Path_) -> bool:
        """Each sounds_path / ir_path read now, once: every file that cannot be used is named."""
        ok = True
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            place = (*spot, i) if isinstance(value, list) else spot
            try:
                sound_files(self.base_dir / item)
            except SoundFolderError as exc:
                shown = exc.problems[:MAX_NAMED]
                more = len(exc.problems) - len(shown)
                for problem in shown:
                    self.problem(place, problem)
                if more:
                    self.problem(place, f"... and {more} more such file(s)")
                ok = False
        return ok

    def try_construct(self, nodes: list[Node], spec_nodes: list[Node] | None) -> None:
        """Build every transform once, so that audiomentations' and our own checks run now, located."""
        from .features import build_spec_pipeline
        from .pipeline import ConstructionError, build_pipeline

        try:
            if nodes:  # an empty pipeline never loads audiomentations
                build_pipeline(nodes, self.base_dir)
            if spec_nodes:
                build_spec_pipeline(tuple(spec_nodes))
        except ConstructionError as exc:
            self.problem(exc.path, exc.message)
