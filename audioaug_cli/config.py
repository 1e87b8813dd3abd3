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

from .entries import EntryChecks, Path_
from .errors import ConfigError, Problem, kind, location, suggest
from .features import LAYOUTS, PAD_MODES, DbScale, FeatureSettings
from .manifest import COLUMNS, FEATURE_COLUMNS
from .pipeline import Node

FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
DEFAULT_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
TOP_KEYS = ("version", "seed", "copies", "audio", "output", "pipeline", "spectrogram")
AUDIO_KEYS = ("sample_rate", "mono")
OUTPUT_KEYS = ("format", "subtype", "manifest")
SPECTROGRAM_KEYS = tuple(FeatureSettings.__dataclass_fields__)
DB_KEYS = ("ref", "amin", "top_db")


@dataclass(frozen=True)
class ClassCopies:
    """``copies: {by: COLUMN, default: N, values: {label: N, ...}}``: copies by a --labels column."""

    by: str
    default: int
    values: dict[str, int]

    def for_label(self, label: str | None) -> int:
        """An input with no label row, or a label not listed, gets the default."""
        return self.values.get(label, self.default) if label is not None else self.default

    def to_dict(self) -> dict[str, Any]:
        return {"by": self.by, "default": self.default, "values": dict(self.values)}


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


class _Checker(EntryChecks):
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
        copies = self.class_copies(data["copies"]) if isinstance(data.get("copies"), dict) \
            else self.integer(data, (), "copies", 1, minimum=1)
        audio = self.section(data, "audio", AUDIO_KEYS)
        sample_rate = audio.get("sample_rate")
        if sample_rate is not None:
            sample_rate = self.integer(audio, ("audio",), "sample_rate", None, minimum=1)
        mono = audio.get("mono", False)
        if not isinstance(mono, bool):
            self.problem(("audio", "mono"), f"expected true or false, found {kind(mono)}")
        output = self.section(data, "output", OUTPUT_KEYS)
        fmt, subtype, manifest = self.output(output)
        if "pipeline" not in data:
            self.problem((), "missing 'pipeline' (a list of transforms; [] copies the audio unchanged)")
        pipeline = self.node_list(data.get("pipeline"), ("pipeline",))
        spectrogram = self.spectrogram(data.get("spectrogram"))
        if not self.problems:
            self.try_construct(pipeline, list(spectrogram.pipeline) if spectrogram else None)
        return Config(seed=seed, copies=copies, sample_rate=sample_rate, mono=bool(mono), format=fmt,
                      subtype=subtype, manifest=manifest, pipeline=tuple(pipeline), base_dir=str(self.base_dir),
                      spectrogram=spectrogram)

    def class_copies(self, value: dict[str, Any]) -> ClassCopies | int:
        """``copies: {by: label, default: 1, values: {siren: 10}}``."""
        here: Path_ = ("copies",)
        self.unknown_keys(value, here, ("by", "default", "values"))
        by = value.get("by")
        if not isinstance(by, str) or not by:
            self.problem(here, f"copies by label needs 'by:', the --labels column to read, found {kind(by)}")
        default = self.integer(value, here, "default", 1, minimum=0)
        values = value.get("values", {})
        counts: dict[str, int] = {}
        if not isinstance(values, dict):
            self.problem((*here, "values"), f"expected a mapping of label to copies, found {kind(values)}")
        else:
            for label, count in values.items():
                if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                    counts[str(label)] = count
                else:
                    self.problem((*here, "values", str(label)), f"expected copies, an integer of 0 or more, "
                                 f"found {kind(count)}")
        return ClassCopies(by, default, counts) if isinstance(by, str) and by else 1

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

    def spectrogram(self, value: Any) -> FeatureSettings | None:
        """The ``spectrogram:`` section, or None when the config has none."""
        if value is None:
            return None
        here: Path_ = ("spectrogram",)
        if not isinstance(value, dict):
            self.problem(here, f"expected a mapping of spectrogram settings, found {kind(value)}")
            return None
        self.unknown_keys(value, here, SPECTROGRAM_KEYS)
        d = FeatureSettings()
        n_fft = self.integer(value, here, "n_fft", d.n_fft, minimum=2)
        hop = self.integer(value, here, "hop_length", None, minimum=1)
        win = self.integer(value, here, "win_length", None, minimum=1)
        if isinstance(win, int) and win > n_fft:
            self.problem((*here, "win_length"), f"must be at most n_fft ({n_fft}), found {win}")
        window = self.window(value.get("window", d.window), (*here, "window"))
        n_mels = self.integer(value, here, "n_mels", d.n_mels, minimum=1) if value.get("n_mels", 1) is not None \
            else None
        fmin = self.number(value, here, "fmin", d.fmin, minimum=0.0)
        fmax = self.number(value, here, "fmax", None, minimum=0.0)
        if fmax is not None and fmax <= fmin:
            self.problem((*here, "fmax"), f"must be greater than fmin ({fmin}), found {fmax}")
        power = self.number(value, here, "power", d.power, minimum=0.0, above=True)
        return FeatureSettings(
            n_fft=n_fft, hop_length=hop, win_length=win, window=window,
            center=self.choice(value, here, "center", d.center, (True, False)), n_mels=n_mels, fmin=fmin, fmax=fmax,
            htk=self.choice(value, here, "htk", d.htk, (True, False)),
            norm=self.choice(value, here, "norm", d.norm, ("slaney", None)),
            pad_mode=self.choice(value, here, "pad_mode", d.pad_mode, PAD_MODES), power=power,
            db=self.db_scale(value.get("db", {}), (*here, "db")),
            layout=self.choice(value, here, "layout", d.layout, LAYOUTS),
            write_audio=self.choice(value, here, "write_audio", d.write_audio, (True, False)),
            pipeline=tuple(self.node_list(value.get("pipeline"), (*here, "pipeline"), spec=True)))

    def db_scale(self, value: Any, here: Path_) -> DbScale | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.problem(here, f"expected a mapping with {', '.join(DB_KEYS)}, or null for linear values, "
                         f"found {kind(value)}")
            return DbScale()
        self.unknown_keys(value, here, DB_KEYS)
        d = DbScale()
        return DbScale(ref=self.number(value, here, "ref", d.ref, minimum=0.0, above=True),
                       amin=self.number(value, here, "amin", d.amin, minimum=0.0, above=True),
                       top_db=self.number(value, here, "top_db", d.top_db, minimum=0.0)
                       if value.get("top_db", 0) is not None else None)

    def window(self, value: Any, here: Path_) -> str:
        from scipy.signal import get_window

        try:
            if not isinstance(value, str):
                raise ValueError
            get_window(value, 16)
        except (ValueError, TypeError):
            self.problem(here, f"expected a window name that scipy.signal.get_window knows (hann, hamming, "
                         f"blackman, boxcar, ...), found {kind(value)}")
            return "hann"
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
