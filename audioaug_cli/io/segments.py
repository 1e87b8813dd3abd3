"""Time-aligned labels: the ``--segments`` table (``file_name, start, end`` in seconds, then any
other columns) and ``OUTPUT_DIR/segments.csv``, the same segments where they are in each output."""

from __future__ import annotations

import csv
import hashlib
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.store import Store, read_table

SEGMENTS = "segments.csv"
REQUIRED = ("file_name", "start", "end")


@dataclass(frozen=True)
class Segments:
    """Each source's segments (start, end) in seconds, in the table's order, with their other cells."""

    columns: tuple[str, ...] = ()  # the table's columns beside file_name, start and end
    times: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    cells: dict[str, list[tuple[str, ...]]] = field(default_factory=dict)
    lines: dict[str, list[int]] = field(default_factory=dict)  # each segment's line in the table
    digest: str = ""  # of the table's bytes: a rerun with another table is another run

    @classmethod
    def read(cls, path: str | Path, options: dict[str, Any] | None = None) -> Segments:
        """The table at a path or a URL, checked: every problem is a UsageError naming the line."""
        data, text = read_table(path, options, "segments CSV")
        reader = csv.reader(text.splitlines())
        header = tuple(next(reader, ()))
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise UsageError(
                f"{path}: line 1: the segments CSV needs the column(s) {', '.join(missing)} "
                f"(file_name relative to INPUT_DIR, start and end in seconds); found: "
                f"{', '.join(header) or 'none'}"
            )
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:
            raise UsageError(f"{path}: line 1: the column {twice[0]!r} appears more than once")
        columns = tuple(c for c in header if c not in REQUIRED)
        at = {c: header.index(c) for c in header}
        found = cls(columns, digest=hashlib.sha256(data).hexdigest())
        for number, row in enumerate(reader, start=2):
            if not any(row):
                continue
            row += [""] * (len(header) - len(row))
            name = row[at["file_name"]].replace("\\", "/").removeprefix("./")
            start, end = (_seconds(path, number, c, row[at[c]]) for c in ("start", "end"))
            if end < start:
                raise UsageError(f"{path}: line {number}: end ({end}) is before start ({start})")
            found.times.setdefault(name, []).append((start, end))
            found.cells.setdefault(name, []).append(tuple(row[at[c]] for c in columns))
            found.lines.setdefault(name, []).append(number)
        return found

    def check_durations(self, path: str | Path, durations: dict[str, float], sample_rate: int | None) -> None:
        """Refuse a segment that ends after its file (``durations``: seconds of each file found)."""
        for name, seconds in durations.items():
            for (start, end), line in zip(self.times.get(name, []), self.lines.get(name, []), strict=True):
                if end > seconds + 1 / (sample_rate or 8000):
                    raise UsageError(
                        f"{path}: line {line}: the segment {start}-{end} s ends after {name}, which "
                        f"lasts {seconds:.6f} s"
                    )


def _seconds(path: str | Path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise UsageError(f"{path}: line {line}: {column} must be a time in seconds, found {cell!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{path}: line {line}: {column} must be a time in seconds from 0, found {cell!r}")
    return value


def write_segments(
    store: Store, name: str, columns: tuple[str, ...], rows: Iterable[tuple[str, float, float, tuple[str, ...]]]
) -> None:
    """segments.csv: file_name, start, end (6 decimals), then the table's other columns; sorted by
    (file_name, start, end). Atomic, and left untouched when it would not change."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1], r[2]))

    def write(handle: IO[str]) -> None:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow((*REQUIRED, *columns))
        for file_name, start, end, cells in ordered:
            writer.writerow((file_name, f"{start:.6f}", f"{end:.6f}", *cells))

    store.write_text(name, write)
