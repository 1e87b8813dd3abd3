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


def _in_split(path: str, split: str) -> str:
    return path.rstrip("/") + "/" + split


def _node_in_split(node: Node, split: str) -> Node:
    params: dict[str, Any] = {}
    for key, value in node.params.items():
        if key.endswith("_path"):
            params[key] = [_in_split(v, split) for v in value] if isinstance(value, list) else _in_split(value, split)
        elif isinstance(value, Node):
            params[key] = _node_in_split(value, split)
        elif holds_nodes(value):
            params[key] = [_node_in_split(v, split) for v in value]
        else:
            params[key] = value
    below = tuple(_node_in_split(t, split) for t in node.transforms) if node.transforms is not None else None
    return Node(node.name, params, below)


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


STEMS = ("mixture", "target", "speech", "noise", "interference")  # what `stems:` may name
REVERB_TARGETS = ("dry", "early", "reverberant")  # mix.reverb.target: what the target stem holds
MAX_SPEAKERS = 10  # mix.speakers.count: sources in one mixture
Span = tuple[float, float]  # a [low, high] range a value is drawn from, uniformly


@dataclass(frozen=True)
class Reverb:
    """``mix.reverb``: an impulse response drawn from a folder, with probability ``p``."""

    ir_path: str
    p: float = 1.0
    target: str = "early"


@dataclass(frozen=True)
class MixNoise:
    """``mix.noise``: an excerpt of a drawn noise file at a drawn SNR, with probability ``p``."""

    sounds_path: str
    snr_db: Span = (5.0, 20.0)
    p: float = 1.0


@dataclass(frozen=True)
class Speakers:
    """``mix.speakers``: each mixture holds ``count`` sources; the others at a drawn SIR."""

    count: int = 2
    sir_db: Span = (0.0, 0.0)


@dataclass(frozen=True)
class MixSettings:
    """The ``mix:`` section and the ``stems:`` written (mixture first)."""

    level_db: Span = (-35.0, -15.0)
    reverb: Reverb | None = None
    noise: MixNoise | None = None
    speakers: Speakers | None = None
    post: tuple[Node, ...] = ()
    stems: tuple[str, ...] = ("mixture", "target")

    @property
    def interferers(self) -> int:
        return self.speakers.count - 1 if self.speakers is not None else 0

    def stem_folders(self) -> tuple[str, ...]:
        """The stem folders written, mixture first: ``interference`` is one folder per other
        speaker (interference1, interference2, ...) when a mixture holds more than two."""
        found: list[str] = []
        for stem in self.stems:
            if stem == "interference" and self.interferers > 1:
                found.extend(f"interference{k}" for k in range(1, self.interferers + 1))
            else:
                found.append(stem)
        return tuple(found)

    def to_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"level_db": list(self.level_db)}
        if self.reverb is not None:
            found["reverb"] = {"ir_path": self.reverb.ir_path, "p": self.reverb.p, "target": self.reverb.target}
        if self.noise is not None:
            noise = self.noise
            found["noise"] = {"sounds_path": noise.sounds_path, "snr_db": list(noise.snr_db), "p": noise.p}
        if self.speakers is not None:
            found["speakers"] = {"count": self.speakers.count, "sir_db": list(self.speakers.sir_db)}
        found["post"] = [node.to_dict() for node in self.post]
        return found


@dataclass(frozen=True)
class Pools:
    """``pools:``: the --labels columns that split what is drawn (``split_by``) and name speakers."""

    split_by: str | None = None
    speaker_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"split_by": self.split_by, "speaker_by": self.speaker_by}


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
    mix: MixSettings | None = None  # mixtures and their stems
    pools: Pools | None = None

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
        if self.mix is not None:
            found["mix"] = self.mix.to_dict()
            found["stems"] = list(self.mix.stems)
        if self.pools is not None:
            found["pools"] = self.pools.to_dict()
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

    @property
    def split_by(self) -> str | None:
        return self.pools.split_by if self.pools is not None else None

    def pool_folders(self) -> list[str]:
        """Every folder the config draws sounds from (relative to base_dir, or URLs)."""
        found: list[str] = []

        def walk(nodes: tuple[Node, ...] | list[Node]) -> None:
            for node in nodes:
                for key, value in node.params.items():
                    if key.endswith("_path"):
                        found.extend(value if isinstance(value, list) else [value])
                walk(node.below())

        walk(self.pipeline)
        if self.mix is not None:
            walk(self.mix.post)
            found.extend(
                p.ir_path if isinstance(p, Reverb) else p.sounds_path for p in (self.mix.reverb, self.mix.noise) if p
            )
        return found

    def for_split(self, split: str | None) -> Config:
        """This config as an item of one split sees it: every folder it draws from is that split's
        subfolder (``pools.split_by``)."""
        if split is None or self.split_by is None:
            return self
        mix = self.mix
        if mix is not None:
            mix = replace(
                mix,
                reverb=replace(mix.reverb, ir_path=_in_split(mix.reverb.ir_path, split)) if mix.reverb else None,
                noise=replace(mix.noise, sounds_path=_in_split(mix.noise.sounds_path, split)) if mix.noise else None,
                post=tuple(_node_in_split(n, split) for n in mix.post),
            )
        return replace(self, pipeline=tuple(_node_in_split(n, split) for n in self.pipeline), mix=mix)

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
