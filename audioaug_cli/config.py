"""YAML config -> a validated, frozen :class:`Config`.

Every problem is reported with its place in the config (``pipeline[2].OneOf.transforms[0].
PitchShift.min_semitones``) and its line, all at once, before any audio is touched.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from .audio_io import OPUS_RATES
from .entries import Path_
from .errors import ConfigError, Problem, kind, location, suggest
from .features import FeatureSettings
from .manifest import COLUMNS, FEATURE_COLUMNS
from .pipeline import Node
from .sections import DB_KEYS, SPECTROGRAM_KEYS, ClassCopies, SectionChecks

FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
DEFAULT_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
MAX_COPIES = 10_000  # copies per input (and --copies): a typo of 1e9 is refused, not run out of memory on
MAX_NODES = 10_000  # YAML nodes a config may expand to, aliases expanded (a "billion laughs" is refused at once)
TOP_KEYS = ("version", "seed", "copies", "audio", "output", "pipeline", "spectrogram")
AUDIO_KEYS = ("sample_rate", "mono")
OUTPUT_KEYS = ("format", "subtype", "manifest")
__all__ = ["DB_KEYS", "SPECTROGRAM_KEYS", "ClassCopies", "Config", "load_config", "parse_config", "pipeline_tree"]


@dataclass(frozen=True)
class Config:
    """A validated config."""

    seed: int = 0
    copies: int | ClassCopies = 1
    sample_rate: int | None = None
    mono: bool = False
    format: str = "wav"
    subtype: str = "PCM_16"
    manifest: str = "manifest.csv"
    pipeline: tuple[Node, ...] = ()
    base_dir: str = "."  # the config file's folder: relative paths in the config start here
    version: int = 1
    spectrogram: FeatureSettings | None = None
    include_original: bool = False  # --include-original: each source also written as copy 0

    def to_dict(self) -> dict[str, Any]:
        """The normalised config, as recorded in audioaug.json and hashed."""
        found = {
            "version": self.version,
            "seed": self.seed,
            "copies": self.copies.to_dict() if isinstance(self.copies, ClassCopies) else self.copies,
            "audio": {"sample_rate": self.sample_rate, "mono": self.mono},
            "output": {"format": self.format, "subtype": self.subtype, "manifest": self.manifest},
            "pipeline": [node.to_dict() for node in self.pipeline],
        }
        if self.spectrogram is not None:  # absent otherwise, so that older OUTPUT_DIRs still resume
            found["spectrogram"] = self.spectrogram.to_dict()
        if self.include_original:
            found["include_original"] = True
        return found

    def copy_numbers(self, label: str | None = None) -> tuple[int, ...]:
        """The copies an input with this label (of the ``copies.by`` column) gets: 0 is the original."""
        count = self.copies.for_label(label) if isinstance(self.copies, ClassCopies) else self.copies
        return ((0,) if self.include_original else ()) + tuple(range(1, count + 1))

    def describe_copies(self) -> str:
        if isinstance(self.copies, ClassCopies):
            return f"copies by {self.copies.by} (default {self.copies.default})"
        return f"{self.copies} cop{'y' if self.copies == 1 else 'ies'} per input"

    @property
    def manifest_columns(self) -> tuple[str, ...]:
        return COLUMNS if self.spectrogram is None else FEATURE_COLUMNS

    @cached_property
    def hash(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def extension(self) -> str:
        return "." + self.format

    def with_overrides(self, seed: int | None = None, copies: int | None = None,
                       include_original: bool | None = None) -> Config:
        """The same config with ``--seed`` / ``--copies`` / ``--include-original`` applied."""
        return replace(self, seed=self.seed if seed is None else seed,
                       copies=self.copies if copies is None else copies,
                       include_original=self.include_original if include_original is None else include_original)


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
    if path.exists() and not (path.is_file() or path.is_dir()):  # reading a FIFO waits for a writer for ever
        raise ConfigError(str(path), [Problem("", "not a regular file (a FIFO, socket or device)")])
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
            too_large = _expansion_problem(node) if node is not None else None
            if too_large is not None:
                raise ConfigError(source, [too_large])
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except RecursionError:
        raise ConfigError(source, [Problem("", "the YAML is nested too deeply to be a config")]) from None
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


def _expansion_problem(root: yaml.Node) -> Problem | None:
    """A problem if the document, its aliases expanded, has more than MAX_NODES nodes or an alias
    inside the node it names. Sizes are counted once per node, so a bomb is measured, not expanded."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if finished:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_NODES:
                return Problem("", f"the YAML expands to more than {MAX_NODES:,} values once its aliases (*name) "
                               "are expanded: a config is never that large", node.start_mark.line + 1)
            continue
        if key in sizes:
            continue
        if key in on_path:
            return Problem("", "a YAML alias (*name) refers to a node that contains it", node.start_mark.line + 1)
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)
    return None


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


class _Checker(SectionChecks):
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
        copies = self.class_copies(data["copies"], MAX_COPIES) if isinstance(data.get("copies"), dict) \
            else self.integer(data, (), "copies", 1, minimum=1, maximum=MAX_COPIES)
        audio = self.section(data, "audio", AUDIO_KEYS)
        sample_rate = audio.get("sample_rate")
        if sample_rate is not None:
            sample_rate = self.integer(audio, ("audio",), "sample_rate", None, minimum=1)
        mono = audio.get("mono", False)
        if not isinstance(mono, bool):
            self.problem(("audio", "mono"), f"expected true or false, found {kind(mono)}")
        output = self.section(data, "output", OUTPUT_KEYS)
        fmt, subtype, manifest = self.output(output)
        if subtype == "OPUS" and sample_rate is not None and sample_rate not in OPUS_RATES:
            self.problem(("audio", "sample_rate"), f"Opus (output.subtype) holds only "
                         f"{', '.join(str(r) for r in OPUS_RATES)} Hz audio, found {sample_rate}")
        if "pipeline" not in data:
            self.problem((), "missing 'pipeline' (a list of transforms; [] copies the audio unchanged)")
        pipeline = self.node_list(data.get("pipeline"), ("pipeline",))
        spectrogram = self.spectrogram(data.get("spectrogram"))
        if not self.problems:
            self.try_construct(pipeline, list(spectrogram.pipeline) if spectrogram else None)
        return Config(seed=seed, copies=copies, sample_rate=sample_rate, mono=bool(mono), format=fmt,
                      subtype=subtype, manifest=manifest, pipeline=tuple(pipeline), base_dir=str(self.base_dir),
                      spectrogram=spectrogram)

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
    if config.spectrogram is not None:
        settings = config.spectrogram
        shown = ", ".join(f"{k}={v!r}" for k, v in settings.to_dict().items() if k != "pipeline")
        lines.append(f"spectrogram ({shown})")
        add(settings.pipeline, "")
    return "\n".join(lines)
