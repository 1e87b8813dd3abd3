"""One unit of work, as a worker runs it: decode an input once, augment and write its copies.

Nothing here raises for a bad input: each item's outcome is an :class:`Outcome`, a manifest row
or a one-line error. What an item draws belongs to it alone (see :mod:`rng` and
:class:`pipeline.Augmenter`), so the same item gives the same bytes in any process or thread.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .audio_io import all_finite, convert, decode_audio, encode_audio, read_audio, write_array, write_audio, write_bytes
from .config import FORMATS, Config
from .errors import ItemError, is_disk_full
from .inputs import Source
from .manifest import ManifestRow

if TYPE_CHECKING:
    from .features import FeatureAugmenter
    from .pipeline import Augmenter

DISK_FULL = "no space left on OUTPUT_DIR's filesystem"


def item_seed(seed: int, source: str, copy: int) -> int:
    """An item's seed: the first 63 bits of BLAKE2b-64 over "<seed>:<copy>:<source>" (UTF-8).

    Depends only on the run seed, the source's path relative to INPUT_DIR (with '/') and the copy
    number, so it is the same on every machine, process and order of execution.
    """
    digest = hashlib.blake2b(f"{seed}:{copy}:{source}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


def output_name(source: str, copy: int, extension: str) -> str:
    """'a/b.flac', copy 2, '.wav' -> 'a/b__aug2.wav'."""
    stem, _dot, _ext = source.rpartition(".")
    return f"{stem}__aug{copy}{extension}"


def item_files(config: Config, source: str, copy: int) -> tuple[str, ...]:
    """What an item writes, relative to OUTPUT_DIR: its audio, its feature, or both."""
    if config.spectrogram is None:
        return (output_name(source, copy, config.extension),)
    feature = output_name(source, copy, ".npy")
    return (output_name(source, copy, config.extension), feature) if config.spectrogram.write_audio else (feature,)


@dataclass(frozen=True)
class Task:
    """The copies of one source still to make (decoded once)."""

    source: Source
    copies: tuple[int, ...]


@dataclass(frozen=True)
class Outcome:
    source: str
    copy: int
    fingerprint: str
    row: ManifestRow | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()  # what the transforms warned about, one line each
    disk_full: bool = False  # not this item's fault: the run stops, and a rerun does the item

    @property
    def audio_seconds(self) -> float:
        return self.row.duration if self.row else 0.0


# One of each per config in a process, shared by its threads (Augmenter gives each thread its own copy).
_augmenters: dict[tuple[str, str], tuple[Augmenter, FeatureAugmenter | None]] = {}
_augmenters_lock = threading.Lock()


def _augmenters_for(config: Config) -> tuple[Augmenter, FeatureAugmenter | None]:
    from .features import FeatureAugmenter
    from .pipeline import Augmenter

    key = (config.hash, config.base_dir)
    with _augmenters_lock:
        if key not in _augmenters:
            features = FeatureAugmenter(config.spectrogram) if config.spectrogram is not None else None
            _augmenters[key] = (Augmenter(config.pipeline, config.base_dir), features)
        return _augmenters[key]


def augment_source(config: Config, task: Task, output_dir: str) -> list[Outcome]:
    """Decode one input once and write each of its pending copies. Never raises for bad input."""
    from .pipeline import captured_warnings

    source = task.source
    if source.conflict is not None:
        error = (f"its outputs would have the same names as those of {source.conflict}; "
                 "rename one of the two")
        return [Outcome(source.rel, c, source.fingerprint, error=error) for c in task.copies]
    try:
        samples, sample_rate = read_audio(source.path)
        samples, sample_rate = convert(samples, sample_rate, config.sample_rate, config.mono)
    except ItemError as exc:
        return [Outcome(source.rel, c, source.fingerprint, error=str(exc)) for c in task.copies]
    augmenter, features = _augmenters_for(config)
    outcomes = []
    for copy in task.copies:
        seed = item_seed(config.seed, source.rel, copy)
        files = item_files(config, source.rel, copy)
        warned: list[str] = []
        try:
            with np.errstate(all="ignore"), captured_warnings() as warned:  # overflow etc.: caught below
                source_samples = samples.copy(order="K") if len(task.copies) > 1 else samples
                out, applied = augmenter.augment(source_samples, sample_rate, seed)
                if applied and not all_finite(out):  # with nothing applied, out is the checked input
                    raise ItemError("the augmented audio holds NaN or infinite samples")
                applied += _write_item(config, features, out, sample_rate, seed, files, output_dir)
        except Exception as exc:  # any failure is this item's alone, but for a full disk
            full = is_disk_full(exc)
            outcomes.append(Outcome(source.rel, copy, source.fingerprint, error=DISK_FULL if full else one_line(exc),
                                    warnings=tuple(warned), disk_full=full))
            continue
        channels, frames = (1, out.shape[0]) if out.ndim == 1 else out.shape
        row = ManifestRow.make(files[0], source.rel, copy, seed, sample_rate, channels, frames, applied,
                               files[-1] if features is not None else None)
        outcomes.append(Outcome(source.rel, copy, source.fingerprint, row=row, warnings=tuple(warned)))
    return outcomes


def _write_item(config: Config, features: FeatureAugmenter | None, out: np.ndarray, sample_rate: int, seed: int,
                files: tuple[str, ...], output_dir: str) -> list[dict[str, Any]]:
    """Write an item's files (its feature first, so that its audio exists only beside it); return the
    spectrogram transforms applied."""
    fmt = FORMATS[config.format]
    if features is None:
        write_audio(os.path.join(output_dir, files[0]), out, sample_rate, fmt, config.subtype)
        return []
    encoded = encode_audio(out, sample_rate, fmt, config.subtype) if features.settings.write_audio else None
    written = decode_audio(encoded) if encoded is not None else out  # the feature is of the audio as written
    feature, applied = features.augment(written, sample_rate, seed)
    write_array(os.path.join(output_dir, files[-1]), feature)
    if encoded is not None:
        write_bytes(os.path.join(output_dir, files[0]), encoded)
    return applied


def augment_unit(config: Config, unit: list[Task], output_dir: str) -> list[Outcome]:
    """One unit of work in a worker: its tasks in order."""
    return [outcome for task in unit for outcome in augment_source(config, task, output_dir)]


def one_line(exc: BaseException) -> str:
    """An item's failure as one line: our own messages as they are, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ItemError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
