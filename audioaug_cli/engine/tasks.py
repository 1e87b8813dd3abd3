"""What the plan hands to a worker and what comes back, and what an item is called: the
vocabulary of a run, without the audio work (no numpy), so that planning a finished rerun
imports nothing it does not use.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from audioaug_cli.config.model import Config
from audioaug_cli.io.inputs import Source
from audioaug_cli.io.manifest import ManifestRow


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
    """What an item writes, relative to OUTPUT_DIR: its audio, its feature, or both; with ``mix:``,
    its mixture and each other stem, the same name in each stem's folder."""
    if config.mix is not None:
        name = output_name(source, copy, config.extension)
        return tuple(f"{stem}/{name}" for stem in config.mix.stem_folders())
    if config.spectrogram is None:
        return (output_name(source, copy, config.extension),)
    feature = output_name(source, copy, ".npy")
    return (output_name(source, copy, config.extension), feature) if config.spectrogram.write_audio else (feature,)


@dataclass(frozen=True)
class Task:
    """The copies of one source still to make (decoded once)."""

    source: Source
    copies: tuple[int, ...]
    segments: tuple[tuple[float, float], ...] | None = None  # --segments: the source's, in seconds
    split: str | None = None  # pools.split_by: the source's split, which it draws from
    partners: tuple[tuple[str, ...], ...] | None = None  # mix.speakers: each copy's other sources

    def part(self, start: int, stop: int) -> Task:
        """The same task for some of its copies."""
        partners = self.partners[start:stop] if self.partners is not None else None
        return Task(self.source, self.copies[start:stop], self.segments, self.split, partners)


@dataclass(frozen=True)
class Outcome:
    source: str
    copy: int
    fingerprint: str
    row: ManifestRow | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()  # what the transforms warned about, one line each
    disk_full: bool = False  # not this item's fault: the run stops, and a rerun does the item
    seconds: float = 0.0  # what the item took in its worker (how units of work are sized)

    @property
    def audio_seconds(self) -> float:
        return self.row.duration if self.row else 0.0
