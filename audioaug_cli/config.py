"""YAML config -> a validated, frozen :class:`Config`.

Every problem is reported with its place in the config (``pipeline[2].OneOf.transforms[0].
PitchShift.min_semitones``) and its line, all at once, before any audio is touched.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from . import registry
from .errors import ConfigError, Problem, location
from .pipeline import Node

FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
DEFAULT_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
TOP_KEYS = ("version", "seed", "copies", "audio", "output", "pipeline")
AUDIO_KEYS = ("sample_rate", "mono")
OUTPUT_KEYS = ("format", "subtype", "manifest")

Path_ = tuple[str | int, ...]  # a place in the config: keys and list indices


@dataclass(frozen=True)
class Config:
    """A validated config."""

    seed: int = 0
    copies: int = 1
    sample_rate: int | None = None
    mono: bool = False
    format: str = "wav"
    subtype: str = "PCM_16"
    manifest: str = "manifest.csv"
    pipeline: tuple[Node, ...] = ()
    base_dir: str = "."  # the config file's folder: relative paths in the config start here
    version: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The normalised config, as recorded in audioaug.json and hashed."""
        return {
            "version": self.version,
            "seed": self.seed,
            "copies": self.copies,
            "audio": {"sample_rate": self.sample_rate, "mono": self.mono},
            "output": {"format": self.format, "subtype": self.subtype, "manifest": self.manifest},
            "pipeline": [node.to_dict() for node in self.pipeline],
        }

    @cached_property
    def hash(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def extension(self) -> str:
        return "." + self.format

    def with_overrides(self, seed: int | None = None, copies: int | None = None) -> Config:
        """The same config with ``--seed`` / ``--copies`` from the command line applied."""
        return replace(self, seed=self.seed if seed is None else seed,
                       copies=self.copies if copies is None else copies)


class _Loader(yaml.SafeLoader):
    """Safe YAML that also reads 1e-3 as a number (YAML 1.2), as people expect."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def load_config(path: str | Path, *, seed: int | None = None, copies: int | None = None) -> Config:
    """Read and fully validate a config file; raise :class:`ConfigError` listing every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), [Problem("", "no such file")]) from None
    except IsADirectoryError:
        raise ConfigError(str(path), [Problem("", "is a folder, not a config file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else exc.strerror
        raise ConfigError(str(path), [Problem("", f"cannot read: {reason}")]) from None
    config = parse_config(text, str(path), base_dir=path.resolve().parent)
    return config.with_overrides(seed, copies)


def parse_config(text: str, source: str = "<config>", base_dir: Path | None = None) -> Config:
    """Validate config text. ``source`` names it in messages; paths are relative to base_dir."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(source, [_yaml_problem(exc)]) from None
    except yaml.reader.ReaderError as exc:
        raise ConfigError(source, [Problem("", f"not YAML text: character #x{exc.character:04x} at "
                                           f"position {exc.position} is not allowed")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, [Problem("", f"not valid YAML: {' '.join(str(exc).split())}")]) from None
    checker = _Checker(node, Path(base_dir) if base_dir else Path.cwd())
    config = checker.check(data)
    if checker.problems:
        raise ConfigError(source, checker.problems)
    return config


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    what = exc.problem or "invalid YAML"
    kind = "YAML syntax error"
    if "could not determine a constructor" in what:
        tag = what.split("tag ")[-1].strip("'").replace("tag:yaml.org,2002:", "!!")
        kind, what = "not allowed", f"the tag {tag}: configs are plain YAML and never construct objects"
    context = exc.context_mark
    if exc.context and context is not None and mark is not None and context.line != mark.line:
        opened = exc.context.replace("while parsing ", "").removeprefix("a ").removeprefix("an ")
        what += f" (in the {opened} that starts on line {context.line + 1}, column {context.column + 1})"
    if mark is None:
        return Problem("", f"{kind}: {what}")
    return Problem("", f"{kind} (column {mark.column + 1}): {what}", mark.line + 1)


def suggest(name: str, valid: list[str] | tuple[str, ...]) -> str:
    import difflib  # only for mistakes: not part of every start-up

    close = difflib.get_close_matches(name, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def kind(value: Any) -> str:
    """How a found value is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return "a mapping" if isinstance(value, dict) else "a list"
    return repr(value)


class _Checker:
    """Walks the parsed YAML, collecting problems with their lines, and builds the Config."""

    def __init__(self, root: yaml.Node | None, base_dir: Path):
        self.root = root
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        if root is not None:
            self._check_duplicate_keys(root, ())

    # -- reporting -------------------------------------------------------------------------
    def problem(self, path: Path_, message: str, key_line: bool = False) -> None:
        self.problems.append(Problem(location(path), message, self._line(path, key_line)))

    def _line(self, path: Path_, key_line: bool) -> int | None:
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

    def _check_duplicate_keys(self, node: yaml.Node, path: Path_) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for k, v in node.value:
                if k.value in seen:
                    self.problems.append(Problem(location((*path, k.value)), "duplicate key; each key may "
                                                 "appear once", k.start_mark.line + 1))
                seen.add(k.value)
                self._check_duplicate_keys(v, (*path, k.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._check_duplicate_keys(v, (*path, i))

    # -- the document ----------------------------------------------------------------------
    def check(self, data: Any) -> Config:
        if not isinstance(data, dict):
            found = "an empty file" if data is None else kind(data)
            self.problem((), f"expected a mapping with version, pipeline, ..., found {found}")
            return Config()
        self.unknown_keys(data, (), TOP_KEYS)
        if "version" not in data:
            self.problem((), "missing 'version: 1' (the config format version)")
        elif data["version"] != 1:
            self.problem(("version",), f"unsupported version {kind(data['version'])}; this audioaug reads version 1")
        seed = self.integer(data, (), "seed", 0, minimum=0)
        copies = self.integer(data, (), "copies", 1, minimum=1)
        audio = self.section(data, "audio", AUDIO_KEYS)
        sample_rate = audio.get("sample_rate")
        if sample_rate is not None:
            sample_rate = self.integer(audio, ("audio",), "sample_rate", None, minimum=1)
        mono = audio.get("mono", False)
        if not isinstance(mono, bool):
            self.problem(("audio", "mono"), f"expected true or false, found {kind(mono)}")
        output = self.section(data, "output", OUTPUT_KEYS)
        fmt, subtype, manifest = self.output(output)
        pipeline: list[Node] = []
        if "pipeline" not in data:
            self.problem((), "missing 'pipeline' (a list of transforms; [] copies the audio unchanged)")
        elif data["pipeline"] is None:
            pipeline = []
        elif not isinstance(data["pipeline"], list):
            self.problem(("pipeline",), f"expected a list of transforms, found {kind(data['pipeline'])}")
        else:
            nodes = [self.entry(e, ("pipeline", i)) for i, e in enumerate(data["pipeline"])]
            pipeline = [n for n in nodes if n is not None]
        config = Config(seed=seed, copies=copies, sample_rate=sample_rate, mono=bool(mono), format=fmt,
                        subtype=subtype, manifest=manifest, pipeline=tuple(pipeline), base_dir=str(self.base_dir))
        if not self.problems:
            self.try_construct(config)
        return config

    def unknown_keys(self, data: dict[str, Any], path: Path_, valid: tuple[str, ...] | list[str]) -> None:
        for key in data:
            if key not in valid:
                hint = suggest(str(key), valid) or f" (expected {', '.join(valid)})"
                self.problem((*path, key), f"unknown key{hint}", key_line=True)

    def integer(self, data: dict[str, Any], path: Path_, key: str, default: Any, minimum: int) -> Any:
        value = data.get(key, default)
        if value is default:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.problem((*path, key), f"expected an integer, found {kind(value)}")
            return default
        if value < minimum:
            self.problem((*path, key), f"must be at least {minimum}, found {value}")
            return default
        return value

    def section(self, data: dict[str, Any], key: str, valid: tuple[str, ...]) -> dict[str, Any]:
        value = data.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problem((key,), f"expected a mapping with {', '.join(valid)}, found {kind(value)}")
            return {}
        self.unknown_keys(value, (key,), valid)
        return value

    def output(self, output: dict[str, Any]) -> tuple[str, str, str]:
        import soundfile

        fmt = output.get("format", "wav")
        if fmt not in FORMATS:
            self.problem(("output", "format"), f"expected one of {', '.join(FORMATS)}, found {kind(fmt)}"
                         + suggest(str(fmt), list(FORMATS)))
            fmt = "wav"
        subtype = output.get("subtype", DEFAULT_SUBTYPES[fmt])
        valid = list(soundfile.available_subtypes(FORMATS[fmt]))
        if not isinstance(subtype, str) or not soundfile.check_format(FORMATS[fmt], subtype):
            self.problem(("output", "subtype"), f"{kind(subtype)} is not a subtype {fmt} files can hold "
                         f"(valid: {', '.join(valid)}){suggest(str(subtype), valid)}")
            subtype = DEFAULT_SUBTYPES[fmt]
        manifest = output.get("manifest", "manifest.csv")
        if not isinstance(manifest, str) or not manifest.endswith(".csv") or "/" in manifest or "\\" in manifest \
                or manifest.startswith(".") or manifest in ("errors.csv",):
            self.problem(("output", "manifest"), f"expected a file name ending in .csv (e.g. metadata.csv), "
                         f"found {kind(manifest)}")
            manifest = "manifest.csv"
        return fmt, subtype, manifest

    # -- the pipeline ----------------------------------------------------------------------
    def entry(self, entry: Any, path: Path_) -> Node | None:
        """One pipeline entry -> a normalised node, or None (with problems recorded)."""
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
        if name in registry.REFUSED:
            self.problem(path, f"{name} is not allowed: {registry.REFUSED[name]}")
            return None
        if name not in registry.COMPOSITIONS and name not in registry.transform_classes():
            valid = [*registry.transform_classes(), *registry.COMPOSITIONS]
            self.problem(path, f"unknown transform {name!r}{suggest(name, valid)} "
                         "(`audioaug transforms` lists them)")
            return None
        if not isinstance(body, dict):
            self.problem(here, f"expected a mapping of parameters, found {kind(body)}")
            return None
        if name in registry.COMPOSITIONS:
            return self.composition(name, body, here)
        return self.leaf(name, body, here)

    def composition(self, name: str, body: dict[str, Any], here: Path_) -> Node | None:
        params = {k: v for k, v in body.items() if k != "transforms"}
        checked = self.params(name, params, here, skip=("transforms",))
        children = body.get("transforms")
        if not isinstance(children, list) or not children:
            self.problem((*here, "transforms") if "transforms" in body else here,
                         f"{name} needs 'transforms:', a non-empty list of transforms"
                         + (f", found {kind(children)}" if "transforms" in body else ""))
            return None
        nodes = [self.entry(c, (*here, "transforms", i)) for i, c in enumerate(children)]
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

    def ranges(self, name: str, params: dict[str, Any], here: Path_) -> bool:
        """p within [0, 1], min_X <= max_X, and paths that exist: what users get wrong most."""
        ok = True
        known = registry.params_of(name)
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
        for i, item in enumerate(value if isinstance(value, list) else [value]):
            place = (*spot, i) if isinstance(value, list) else spot
            path = self.base_dir / item
            if not path.exists():
                self.problem(place, f"no such file or folder: {path} (paths are relative to the config's folder)")
                return False
            if path.is_dir() and not any(_audio_files(path)):
                self.problem(place, f"{path} holds no audio files ({' '.join(AUDIO_EXTENSIONS)})")
                return False
        return True

    def try_construct(self, config: Config) -> None:
        """Build every transform once, so that audiomentations' own checks run now, located."""
        from .pipeline import ConstructionError, build_pipeline

        if not config.pipeline:
            return  # nothing to build: an empty pipeline never loads audiomentations
        try:
            build_pipeline(config.pipeline, config.base_dir)
        except ConstructionError as exc:
            self.problem(exc.path, exc.message)


def _audio_files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def pipeline_tree(config: Config) -> str:
    """The normalised pipeline as an indented tree, as `audioaug validate` prints it."""
    lines = ["pipeline" + (" (empty: copies the audio unchanged)" if not config.pipeline else "")]

    def add(nodes: tuple[Node, ...] | list[Node], indent: str) -> None:
        for i, node in enumerate(nodes):
            last = i == len(nodes) - 1
            nested = node.nested
            shown = ", ".join(f"{k}={v!r}" for k, v in node.params.items() if k not in nested)
            lines.append(f"{indent}{'└── ' if last else '├── '}{node.name}({shown})")
            below = indent + ("    " if last else "│   ")
            add(node.transforms or (), below)
            for key, value in nested.items():
                lines.append(f"{below}{key}:")
                add(value, below + "  ")

    add(config.pipeline, "")
    return "\n".join(lines)
