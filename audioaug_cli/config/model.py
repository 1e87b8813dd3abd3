"""The config as plain, frozen records: what a checked config holds, and nothing that runs it.

Importing this imports no engine, no transform library and no YAML parser. The spectrogram
settings' fields carry their own limits and descriptions (``metadata``): the config check and the
JSON Schema both read them from here.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import MISSING, Field, dataclass, field, fields, replace
from functools import cached_property
from typing import Any, Literal

AUDIO_FORMATS = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG"}
DEFAULT_SUBTYPES = {"wav": "PCM_16", "flac": "PCM_16", "ogg": "VORBIS"}
MAX_COPIES = 10_000  # copies per input (and --copies): a typo of 1e9 is refused, not run out of memory on
Place = tuple[str | int, ...]  # a place in the config: keys and list indices, e.g. ("pipeline", 2, "Gain")
Layout = Literal["channels_first", "channels_last"]
Clip = Literal["keep", "normalize", "fail"]  # output.clip: what an output beyond full scale gets
CLIP_MODES: tuple[Clip, ...] = ("keep", "normalize", "fail")
PadMode = Literal["constant", "edge", "linear_ramp", "reflect", "symmetric", "empty"]  # what librosa.stft takes


@dataclass(frozen=True)
class Node:
    """One checked pipeline entry. A parameter that takes a transform holds a Node, or a list of
    them (applied as a Compose); a composition (Compose, OneOf, SomeOf) has ``transforms``."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    transforms: tuple[Node, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """As recorded in audioaug.json and hashed."""
        params = {k: _node_value_dict(v) for k, v in self.params.items()}
        if self.transforms is None:
            return {"name": self.name, "params": params}
        return {"name": self.name, "params": params, "transforms": [t.to_dict() for t in self.transforms]}

    @property
    def nested(self) -> dict[str, list[Node]]:
        """The parameters that hold transforms, each as a list."""
        return {k: v if isinstance(v, list) else [v] for k, v in self.params.items() if holds_nodes(v)}

    def below(self) -> list[Node]:
        """The nodes directly inside this one: a composition's children and nested transforms."""
        return [*(self.transforms or ()), *(n for held in self.nested.values() for n in held)]


def holds_nodes(value: Any) -> bool:
    """Whether a parameter's value is a node, or a non-empty list of them."""
    return isinstance(value, Node) or (
        isinstance(value, list) and bool(value) and all(isinstance(v, Node) for v in value)
    )


def _node_value_dict(value: Any) -> Any:
    if isinstance(value, Node):
        return value.to_dict()
    if holds_nodes(value):
        return [v.to_dict() for v in value]
    return value


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


def _setting(default: Any, doc: str = "", minimum: float | None = None, above: bool = False) -> Any:
    """A settings field: its default, and what the check and the schema say about it. ``above``: the
    value must be greater than ``minimum``, not equal to it."""
    limits = {"doc": doc, "minimum": minimum, "above": above}
    if isinstance(default, type):
        return field(default_factory=default, metadata=limits)
    return field(default=default, metadata=limits)


def default_of(setting: Field[Any]) -> Any:
    """A settings field's default value (made anew when the field has a factory)."""
    return setting.default_factory() if setting.default_factory is not MISSING else setting.default


@dataclass(frozen=True)
class DbScale:
    """``librosa.power_to_db``'s arguments."""

    ref: float = _setting(1.0, minimum=0.0, above=True)
    amin: float = _setting(1e-5, minimum=0.0, above=True)
    top_db: float | None = _setting(80.0, minimum=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class FeatureSettings:
    """The ``spectrogram:`` section. Defaults are kapre's MelSpectrogram, as in the seed article."""

    n_fft: int = _setting(1024, minimum=2)
    hop_length: int | None = _setting(None, "null: n_fft // 4", minimum=1)
    win_length: int | None = _setting(None, "null: n_fft; at most n_fft", minimum=1)
    window: str = _setting("hann", "a window scipy.signal.get_window knows")
    center: bool = _setting(False)
    n_mels: int | None = _setting(256, "null: the STFT itself, no mel projection", minimum=1)
    fmin: float = _setting(0.0, minimum=0.0)
    fmax: float | None = _setting(None, "null: sample_rate / 2; above fmin", minimum=0.0)
    htk: bool = _setting(False)
    norm: Literal["slaney"] | None = _setting("slaney")
    pad_mode: PadMode = _setting("constant")
    power: float = _setting(1.0, minimum=0.0, above=True)
    db: DbScale | None = _setting(DbScale, "librosa.power_to_db's arguments; null: linear values")
    layout: Layout = _setting("channels_first")
    write_audio: bool = _setting(True)
    pipeline: tuple[Node, ...] = _setting((), "Spectrogram transforms, applied in order (a Compose).")

    @property
    def hop(self) -> int:
        return self.hop_length or self.n_fft // 4

    def to_dict(self) -> dict[str, Any]:
        """As recorded in audioaug.json and hashed: every field, in order (a new setting is hashed
        without being listed here, so a changed value is never taken for the same config)."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        found["db"] = None if self.db is None else self.db.to_dict()
        found["pipeline"] = [node.to_dict() for node in self.pipeline]
        return found


@dataclass(frozen=True)
class Config:
    """A checked config."""

    seed: int = 0
    copies: int | ClassCopies = 1
    sample_rate: int | None = None
    mono: bool = False
    format: str = "wav"
    subtype: str = "PCM_16"
    manifest: str = "manifest.csv"
    clip: Clip = "keep"
    pipeline: tuple[Node, ...] = ()
    base_dir: str = "."  # the config file's folder: relative paths in the config start here
    version: int = 1
    spectrogram: FeatureSettings | None = None
    include_original: bool = False  # --include-original: each source also written as copy 0
    segments: str = ""  # --segments: the table's digest (its times are mapped into every output)

    def to_dict(self) -> dict[str, Any]:
        """The normalised config, as recorded in audioaug.json and hashed."""
        output: dict[str, Any] = {"format": self.format, "subtype": self.subtype, "manifest": self.manifest}
        if self.clip != "keep":  # absent when it is the default, so that older OUTPUT_DIRs still resume
            output["clip"] = self.clip
        found: dict[str, Any] = {
            "version": self.version,
            "seed": self.seed,
            "copies": self.copies.to_dict() if isinstance(self.copies, ClassCopies) else self.copies,
            "audio": {"sample_rate": self.sample_rate, "mono": self.mono},
            "output": output,
            "pipeline": [node.to_dict() for node in self.pipeline],
        }
        if self.spectrogram is not None:  # absent otherwise, so that older OUTPUT_DIRs still resume
            found["spectrogram"] = self.spectrogram.to_dict()
        if self.include_original:
            found["include_original"] = True
        if self.segments:
            found["segments"] = self.segments
        return found

    def copy_numbers(self, label: str | None = None) -> tuple[int, ...]:
        """The copies an input with this label (of the ``copies.by`` column) gets: 0 is the original."""
        count = self.copies.for_label(label) if isinstance(self.copies, ClassCopies) else self.copies
        return ((0,) if self.include_original else ()) + tuple(range(1, count + 1))

    def describe_copies(self) -> str:
        if isinstance(self.copies, ClassCopies):
            return f"copies by {self.copies.by} (default {self.copies.default})"
        return f"{self.copies} cop{'y' if self.copies == 1 else 'ies'} per input"

    @cached_property
    def hash(self) -> str:
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def extension(self) -> str:
        return "." + self.format

    def with_overrides(
        self, seed: int | None = None, copies: int | None = None, include_original: bool | None = None
    ) -> Config:
        """The same config with ``--seed`` / ``--copies`` / ``--include-original`` applied."""
        return replace(
            self,
            seed=self.seed if seed is None else seed,
            copies=self.copies if copies is None else copies,
            include_original=self.include_original if include_original is None else include_original,
        )
