"""Time-aligned labels: the ``--segments`` table (``file_name, start, end`` in seconds, then any
other columns) and ``OUTPUT_DIR/segments.csv``, the same segments where they are in each output."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.manifest import RESERVED
from audioaug_cli.io.store import Store
from audioaug_cli.io.tables import csv_writer, read_csv, relative_name

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
        table = read_csv(
            path,
            options,
            "segments CSV",
            REQUIRED,
            RESERVED,
            needs=" (file_name relative to INPUT_DIR, start and end in seconds)",
        )
        columns = tuple(c for c in table.header if c not in REQUIRED)
        at = {c: table.index(c) for c in table.header}
        found = cls(columns, digest=table.digest)
        for number, row in table.rows:
            name = relative_name(row[at["file_name"]])
            start, end = (_seconds(path, number, c, row[at[c]]) for c in ("start", "end"))
            if end <= start:
                raise UsageError(
                    f"{path}: line {number}: end ({end}) is not after start ({start}); a segment lasts "
                    "longer than nothing (lhotse and Kaldi refuse empty ones)"
                )
            found.times.setdefault(name, []).append((start, end))
            found.cells.setdefault(name, []).append(tuple(row[at[c]] for c in columns))
            found.lines.setdefault(name, []).append(number)
        return found

    def check_durations(
        self, path: str | Path, durations: dict[str, tuple[float, int]], sample_rate: int | None
    ) -> None:
        """Refuse a segment that ends after its file (``durations``: seconds and rate of each file
        found; ``sample_rate``: the config's, when it resamples)."""
        for name, (seconds, rate) in durations.items():
            for (start, end), line in zip(self.times.get(name, []), self.lines.get(name, []), strict=True):
                if ends_after(end, seconds, sample_rate or rate):
                    raise UsageError(
                        f"{path}: line {line}: the segment {start}-{end} s ends after {name}, which "
                        f"lasts {seconds:.6f} s"
                    )


def ends_after(end: float, seconds: float, rate: int) -> bool:
    """Whether a segment ending at ``end`` ends after a file of ``seconds`` at ``rate``: by more than
    one sample, which is what a time in seconds written to 6 decimals may differ by."""
    return end > seconds + 1 / rate


def _seconds(path: str | Path, line: int, column: str, cell: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise UsageError(f"{path}: line {line}: {column} must be a time in seconds, found {cell!r}") from None
    if not math.isfinite(value) or value < 0:
        raise UsageError(f"{path}: line {line}: {column} must be a time in seconds from 0, found {cell!r}")
    return value


def read_written(store: Store) -> tuple[tuple[str, ...], dict[str, list[tuple[str, str, dict[str, str]]]]]:
    """What :func:`write_segments` wrote in a store: the table's own columns, and each output's
    (start, end, other cells), as written (text), in the file's order. FileNotFoundError when
    there is none; ValueError when it is not what audioaug writes."""
    reader = csv.reader(io.StringIO(store.read_text(SEGMENTS), newline=""))
    try:
        header = tuple(next(reader, ()))
        if header[: len(REQUIRED)] != REQUIRED:
            raise ValueError(f"{store.shown(SEGMENTS)} does not start with the columns {', '.join(REQUIRED)}")
        columns = header[len(REQUIRED) :]
        found: dict[str, list[tuple[str, str, dict[str, str]]]] = {}
        for cells in reader:
            if len(cells) != len(header):
                raise ValueError(f"{store.shown(SEGMENTS)}: line {reader.line_num} is not a whole row")
            found.setdefault(cells[0], []).append((cells[1], cells[2], dict(zip(columns, cells[3:], strict=True))))
    except csv.Error as exc:
        raise ValueError(f"{store.shown(SEGMENTS)}: {exc}") from None
    return columns, found


def write_segments(
    store: Store, name: str, columns: tuple[str, ...], rows: Iterable[tuple[str, float, float, tuple[str, ...]]]
) -> None:
    """segments.csv: file_name, start, end (6 decimals), then the table's other columns; sorted by
    (file_name, start, end). Atomic, and left untouched when it would not change."""
    ordered = sorted(rows, key=lambda r: (r[0], r[1], r[2]))

    def write(handle: IO[str]) -> None:
        writer = csv_writer(handle)
        writer.writerow((*REQUIRED, *columns))
        for file_name, start, end, cells in ordered:
            writer.writerow((file_name, f"{start:.6f}", f"{end:.6f}", *cells))

    store.write_text(name, write)
