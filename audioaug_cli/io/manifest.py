"""Manifest and errors rows, the labels CSV, and writing them as CSV files."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import Store
from audioaug_cli.io.tables import EXPORT_FIELDS, csv_line, csv_writer, json_text, read_csv, relative_name

COLUMNS = (
    "file_name",
    "source",
    "copy",
    "seed",
    "sample_rate",
    "channels",
    "frames",
    "duration",
    "transforms",
    "peak_db",
    "clipped",
)
FEATURE_COLUMNS = (*COLUMNS, "feature_file")  # with a spectrogram: section
ERROR_COLUMNS = ("source", "error")
ERRORS = "errors.csv"  # OUTPUT_DIR's table of the inputs that failed
STEM_COLUMNS = tuple(f"{stem}_file" for stem in ("target", "speech", "noise", "interference")) + tuple(
    f"interference{k}_file" for k in range(1, 10)
)  # with stems (mix:): where each stem of the row's mixture is
RESERVED = (*FEATURE_COLUMNS, *STEM_COLUMNS, *EXPORT_FIELDS)  # what a --labels or --segments column may not be named


def stem_columns(stems: tuple[str, ...]) -> tuple[str, ...]:
    """The manifest's columns with these stem folders (mixture first): one per stem beside the mixture."""
    return (*COLUMNS, *(f"{stem}_file" for stem in stems[1:]))


@dataclass(frozen=True, kw_only=True)
class ManifestRow:
    """One written file, as its manifest row; ``transforms`` is the JSON list of what was applied."""

    file_name: str  # relative to OUTPUT_DIR, '/' separated
    source: str  # relative to INPUT_DIR
    copy: int
    seed: int
    sample_rate: int
    channels: int
    frames: int
    duration: float
    transforms: str
    feature_file: str | None = None  # relative to OUTPUT_DIR: the item's .npy, with a spectrogram: section
    peak_db: float | None = None  # the largest absolute sample before quantisation, dBFS; None: silent
    clipped: int | None = None  # samples beyond full scale that the output format cut off (None: not recorded)
    # --segments (not manifest columns): the source's segments, and each as (start, end, its index) in the output
    segment_times: tuple[tuple[float, float], ...] | None = None
    segments: tuple[tuple[float, float, int], ...] | None = None
    stems: dict[str, str] | None = None  # with mix: each other stem's file, by stem, relative to OUTPUT_DIR
    split: str | None = None  # with pools.split_by: the split the item drew from

    @classmethod
    def make(
        cls,
        *,
        file_name: str,
        source: str,
        copy: int,
        seed: int,
        sample_rate: int,
        channels: int,
        frames: int,
        transforms: list[dict[str, Any]],
        feature_file: str | None = None,
        peak_db: float | None = None,
        clipped: int | None = None,
        segment_times: tuple[tuple[float, float], ...] | None = None,
        segments: tuple[tuple[float, float, int], ...] | None = None,
        stems: dict[str, str] | None = None,
        split: str | None = None,
    ) -> ManifestRow:
        return cls(
            file_name=file_name,
            source=source,
            copy=copy,
            seed=seed,
            sample_rate=sample_rate,
            channels=channels,
            frames=frames,
            duration=round(frames / sample_rate, 6),
            transforms=json_text(transforms),
            feature_file=feature_file,
            peak_db=peak_db,
            clipped=clipped,
            segment_times=segment_times,
            segments=segments,
            stems=stems,
            split=split,
        )

    @property
    def files(self) -> tuple[str, ...]:
        """Every file this output is made of, relative to OUTPUT_DIR."""
        extra = (self.feature_file,) if self.feature_file and self.feature_file != self.file_name else ()
        return (self.file_name, *extra, *(self.stems or {}).values())

    def to_json(self) -> str:
        """The row as the resume state keeps it (the same text ``dataclasses.asdict`` would give)."""
        return json.dumps({name: getattr(self, name) for name in _ROW_FIELDS})

    @classmethod
    def from_json(cls, text: str) -> ManifestRow:
        found = json.loads(text)
        for key in ("segment_times", "segments"):  # JSON holds tuples as lists
            if found.get(key) is not None:
                found[key] = tuple(tuple(s) for s in found[key])
        return cls(**found)

    def values(self, columns: tuple[str, ...]) -> tuple[Any, ...]:
        return tuple(getattr(self, c) for c in columns)

    def line(self, columns: tuple[str, ...]) -> str:
        """The row's manifest line for these columns, without its label cells (see
        :func:`write_manifest`)."""
        stems = self.stems or {}
        return csv_line(getattr(self, c) if c in _FIELD_SET else stems.get(c.removesuffix("_file")) for c in columns)

    @staticmethod
    def cell_type(column: str) -> type:
        """What a manifest column's text is read back as: int, float or str (from the field's type)."""
        return _cell_types()[column]


class Labels:
    """Columns from ``--labels``, copied onto every output of the matching input file."""

    def __init__(
        self, columns: tuple[str, ...] = (), values: dict[str, tuple[str, ...]] | None = None, digest: str = ""
    ):
        self.columns = columns
        self.values = values or {}
        self.digest = digest  # of the CSV's bytes: what the manifest's label columns were written from

    @classmethod
    def read(cls, path: str | Path, options: dict[str, Any] | None = None) -> Labels:
        """The labels CSV at a path or a URL (``options``: the storage options)."""
        table = read_csv(
            path,
            options,
            "labels CSV",
            ("file_name",),
            RESERVED,
            needs=" (paths relative to INPUT_DIR)",
        )
        columns = tuple(c for c in table.header if c != "file_name")
        name_at = table.index("file_name")
        where = [table.index(c) for c in columns]
        values: dict[str, tuple[str, ...]] = {}
        lines: dict[str, int] = {}
        for line, cells in table.rows:
            name = relative_name(cells[name_at])
            if name in lines:
                raise UsageError(
                    f"{path}: line {line}: {name} already has a row (line {lines[name]}); give each file one row"
                )
            lines[name] = line
            values[name] = tuple(cells[i] for i in where)
        return cls(columns, values, table.digest)

    def value(self, source: str, column: str) -> str | None:
        """A source's value in one column; None when the CSV has no row for it."""
        row = self.values.get(source)
        return None if row is None else row[self.columns.index(column)]

    def for_source(self, source: str) -> tuple[str, ...]:
        return self.values.get(source, ("",) * len(self.columns))


_ROW_FIELDS = tuple(f.name for f in fields(ManifestRow))
_FIELD_SET = frozenset(_ROW_FIELDS)


@cache
def _cell_types() -> dict[str, type]:
    import typing

    found: dict[str, type] = {}
    for name, hint in typing.get_type_hints(ManifestRow).items():
        kinds = set(typing.get_args(hint)) or {hint}
        found[name] = int if int in kinds else float if float in kinds else str
    return found


def write_manifest(
    store: Store, name: str, lines: Iterable[tuple[str, str]], labels: Labels, columns: tuple[str, ...] = COLUMNS
) -> None:
    """Write the manifest atomically from (source, line) pairs already sorted by source and copy
    (each line :meth:`ManifestRow.line` for ``columns``), with the source's label cells appended."""

    def write(handle: IO[str]) -> None:
        handle.write(csv_line((*columns, *labels.columns)) + "\n")
        if not labels.columns:
            handle.writelines(f"{line}\n" for _source, line in lines)
            return
        last, cells = None, ""
        for source, line in lines:
            if source != last:  # (a leading empty cell: one empty label alone would be written "")
                last, cells = source, csv_line(("", *labels.for_source(source)))
            handle.write(f"{line}{cells}\n")

    store.write_text(name, write)


def write_errors(store: Store, name: str, errors: Iterable[tuple[str, str]]) -> int:
    """Write errors.csv atomically if there are errors; remove a stale one otherwise."""
    rows = list(errors)  # one per failed input: small
    if not rows:
        store.remove(name)
        return 0

    def write(handle: IO[str]) -> None:
        writer = csv_writer(handle)
        writer.writerow(ERROR_COLUMNS)
        writer.writerows(rows)

    store.write_text(name, write)
    return len(rows)
