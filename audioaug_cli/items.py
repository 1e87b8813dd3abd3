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
from typing import TYPE_CHECKING

from .audio_io import all_finite, convert, read_audio, write_audio
from .config import FORMATS, Config
from .errors import ItemError, is_disk_full
from .inputs import Source
from .manifest import ManifestRow

if TYPE_CHECKING:
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


_augmenters: dict[tuple[str, str], Augmenter] = {}  # one per config in a process; each thread builds its own copy
_augmenters_lock = threading.Lock()


def _augmenter(config: Config) -> Augmenter:
    from .pipeline import Augmenter

    key = (config.hash, config.base_dir)
    with _augmenters_lock:
        if key not in _augmenters:
            _augmenters[key] = Augmenter(config.pipeline, config.base_dir)
        return _augmenters[key]


def augment_source(config: Config, task: Task, output_dir: str) -> list[Outcome]:
    """Decode one input once and write each of its pending copies. Never raises for bad input."""
    import numpy as np

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
    augmenter = _augmenter(config)
    outcomes = []
    for copy in task.copies:
        seed = item_seed(config.seed, source.rel, copy)
        name = output_name(source.rel, copy, config.extension)
        warned: list[str] = []
        try:
            with np.errstate(all="ignore"), captured_warnings() as warned:  # overflow etc.: caught below
                source_samples = samples.copy(order="K") if len(task.copies) > 1 else samples
                out, applied = augmenter.augment(source_samples, sample_rate, seed)
            if applied and not all_finite(out):  # with nothing applied, out is the checked input
                raise ItemError("the augmented audio holds NaN or infinite samples")
            write_audio(os.path.join(output_dir, name), out, sample_rate, FORMATS[config.format], config.subtype)
        except Exception as exc:  # any failure is this item's alone, but for a full disk
            full = is_disk_full(exc)
            outcomes.append(Outcome(source.rel, copy, source.fingerprint, error=DISK_FULL if full else one_line(exc),
                                    warnings=tuple(warned), disk_full=full))
            continue
        channels, frames = (1, out.shape[0]) if out.ndim == 1 else out.shape
        row = ManifestRow.make(name, source.rel, copy, seed, sample_rate, channels, frames, applied)
        outcomes.append(Outcome(source.rel, copy, source.fingerprint, row=row, warnings=tuple(warned)))
    return outcomes


def augment_unit(config: Config, unit: list[Task], output_dir: str) -> list[Outcome]:
    """One unit of work in a worker: its tasks in order."""
    return [outcome for task in unit for outcome in augment_source(config, task, output_dir)]


def one_line(exc: BaseException) -> str:
    """An item's failure as one line: our own messages as they are, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ItemError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
