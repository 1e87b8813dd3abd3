"""What the plan hands to a worker and what comes back, and what an item is called: the
vocabulary of a run, without the audio work (no numpy), so that planning a finished rerun
imports nothing it does not use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from audioaug_cli.config.model import Config
from audioaug_cli.io.inputs import Source
from audioaug_cli.io.manifest import COLUMNS, FEATURE_COLUMNS, ManifestRow, stem_columns


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


def manifest_columns(config: Config) -> tuple[str, ...]:
    """The manifest's columns (before the label columns) for a config."""
    if config.mix is not None:
        return stem_columns(config.mix.stem_folders())
    return COLUMNS if config.spectrogram is None else FEATURE_COLUMNS


@dataclass(slots=True)
class Task:
    """The copies of one source still to make (decoded once); never changed once made, and
    slotted rather than frozen as :class:`Source` is (one is made per input)."""

    source: Source
    copies: tuple[int, ...]
    segments: tuple[tuple[float, float], ...] | None = None  # --segments: the source's, in seconds
    split: str | None = None  # pools.split_by: the source's split, which it draws from
    partners: tuple[tuple[str, ...], ...] | None = None  # mix.speakers: each copy's other sources

    def part(self, start: int, stop: int) -> Task:
        """The same task for some of its copies."""
        partners = self.partners[start:stop] if self.partners is not None else None
        return Task(self.source, self.copies[start:stop], self.segments, self.split, partners)


class Unit(list[Task]):
    """Tasks handed to a worker together. Pickled as one tuple of plain values per task, which
    takes a fifth of the time the dataclasses' own pickling does (a dict of names per instance):
    the parent pays it for every input it hands out."""

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        packed = [
            (s.rel, s.path, s.fingerprint, s.problem, s.size, s.excerpt, t.copies, t.segments, t.split, t.partners)
            for t in self
            for s in (t.source,)
        ]
        return _unpacked, (packed,)


def _unpacked(packed: list[tuple[Any, ...]]) -> Unit:
    return Unit(Task(Source(*fields[:6]), *fields[6:]) for fields in packed)


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


# An output as the resume state records it, made by the worker that wrote its files: (source, copy,
# fingerprint, file_name, the ManifestRow as JSON, its manifest line; None: made from the JSON
# when the manifest is written).
Record = tuple[str, int, str, str, str, str | None]


def record_of(row: ManifestRow, fingerprint: str, columns: tuple[str, ...] | None = None) -> Record:
    """An output's record; with ``columns``, its manifest line too."""
    return (row.source, row.copy, fingerprint, row.file_name, row.to_json(), row.line(columns) if columns else None)


@dataclass
class Finished:
    """What a unit of work did, as it comes back from its worker: one object of plain tuples per
    unit, so that the parent unpickles and records it without building anything per item (the
    records, JSON and manifest lines included, are made by the worker); or, where the worker
    recorded them itself (engine.ledger.Ledger), its counts alone."""

    made: list[Record] = field(default_factory=list)  # emptied once recorded by the worker
    failed: list[tuple[str, int, str, str]] = field(default_factory=list)  # (source, copy, fingerprint, error)
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (source, message), each distinct once
    outputs: int = 0  # items written
    recorded: bool = False  # whether the worker recorded the outputs and failures in the state itself
    handed_back: list[Task] = field(default_factory=list)  # large files, to be split across units
    items: int = 0
    seconds: float = 0.0  # what its items took in the worker (how units of work are sized)
    audio_seconds: float = 0.0  # of the outputs made
    clipped: int = 0  # outputs that had samples cut off at full scale
    disk_full: bool = False  # an item found the disk full (not recorded: the run stops, a rerun does it)

    @classmethod
    def of(cls, outcomes: Iterable[Outcome], columns: tuple[str, ...], seconds: float = 0.0) -> Finished:
        found = cls(seconds=seconds)
        warned: set[tuple[str, str]] = set()
        for outcome in outcomes:
            found.items += 1
            for message in outcome.warnings:
                if (outcome.source, message) not in warned:
                    warned.add((outcome.source, message))
                    found.warnings.append((outcome.source, message))
            row = outcome.row
            if outcome.disk_full:
                found.disk_full = True
            elif row is not None:
                found.made.append(record_of(row, outcome.fingerprint, columns))
                found.outputs += 1
                found.audio_seconds += row.duration
                found.clipped += bool(row.clipped)
            else:
                found.failed.append((outcome.source, outcome.copy, outcome.fingerprint, outcome.error or "failed"))
        return found

    @classmethod
    def joined(cls, parts: Iterable[Finished]) -> Finished:
        """Several units' results as one."""
        found = cls()
        for part in parts:
            found.made += part.made
            found.outputs += part.outputs
            found.failed += part.failed
            found.warnings += part.warnings
            found.items += part.items
            found.seconds += part.seconds
            found.audio_seconds += part.audio_seconds
            found.clipped += part.clipped
            found.disk_full = found.disk_full or part.disk_full
        return found

    @property
    def rows(self) -> list[ManifestRow]:
        """The outputs' rows (built again from their JSON: for tests and tools, not the run)."""
        return [ManifestRow.from_json(made[4]) for made in self.made]
