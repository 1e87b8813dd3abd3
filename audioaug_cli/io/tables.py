"""Every CSV audioaug reads from its user (``--labels``, ``--segments``) and every CSV it writes
(the manifest, errors.csv, segments.csv), through one reader and one writer.

The reader is strict, because a table that is read wrongly corrupts every output made from it
without a word: a row with more or fewer fields than the header (an unquoted comma in a
transcript) is refused with its line, a quoted value keeps its newlines, a BOM is dropped, a
column named twice or named as one of audioaug's own fields is refused. The writer quotes every
value that holds a line break of any kind, so that a name with a carriage return cannot split a
row for a reader that takes ``\\r`` as the end of a line.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import json
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.filesystems import without_credentials
from audioaug_cli.io.store import LocalStore, ObjectStore, open_store, reason

# What audioaug writes itself, beside the manifest's columns: segments.csv's times, and the fields
# of the exports (NeMo's lines, lhotse's recordings and supervisions, WebDataset's JSON). A table
# column of one of these names would be copied over audioaug's own value of it.
EXPORT_FIELDS = (
    "start",
    "end",
    "offset",
    "audio_filepath",
    "target_filepath",
    "sampling_rate",
    "num_samples",
    "num_channels",
    "channel",
    "channel_ids",
    "sources",
    "recording_id",
    "id",
    "custom",
    "segments",
)


@dataclass(frozen=True)
class Table:
    """A CSV read whole: its header, and each row with the line it starts on."""

    header: tuple[str, ...]
    rows: tuple[tuple[int, tuple[str, ...]], ...]
    digest: str  # sha256 of the file's bytes

    def index(self, column: str) -> int:
        return self.header.index(column)


def read_csv(
    where: str | os.PathLike[str],
    options: dict[str, Any] | None,
    what: str,
    required: tuple[str, ...],
    reserved: tuple[str, ...] = (),
    needs: str = "",
) -> Table:
    """A user's CSV (``what``: "labels CSV"), checked: ``required`` columns present (``needs`` says
    what they hold), no column twice, none of ``reserved``, every row as many fields as the header.
    Blank lines are skipped. Every problem is a UsageError naming the file and the line."""
    data, text = read_table_bytes(where, options, what)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[tuple[int, tuple[str, ...]]] = []
    try:
        header = tuple(next(reader, ()))
        missing = [c for c in required if c not in header]
        if missing:
            raise UsageError(
                f"{where}: line 1: the {what} needs the column(s) {', '.join(missing)}{needs}; "
                f"found: {', '.join(header) or 'none'}"
            )
        twice = sorted({c for c in header if header.count(c) > 1})
        if twice:
            raise UsageError(f"{where}: line 1: the column {twice[0]!r} appears more than once; give each its own name")
        taken = [c for c in header if c in reserved and c not in required]
        if taken:
            raise UsageError(
                f"{where}: line 1: the column name(s) {', '.join(taken)} are audioaug's own (the manifest's "
                f"columns and the exports' fields); rename them"
            )
        line = reader.line_num + 1
        for cells in reader:
            if any(cells):
                if len(cells) != len(header):
                    raise UsageError(
                        f"{where}: line {line}: {len(cells)} field(s) where the header has {len(header)}; "
                        'a value holding a comma needs quotes ("hello, world")'
                    )
                rows.append((line, tuple(cells)))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UsageError(f"{where}: line {reader.line_num}: cannot read the {what}: {exc}") from None
    return Table(header, tuple(rows), hashlib.sha256(data).hexdigest())


def relative_name(name: str) -> str:
    """A table's file_name as the walk names sources: '/' separated, without a leading './'."""
    name = name.replace("\\", "/")
    return name[2:] if name.startswith("./") else name


def json_text(value: Any) -> str:
    """Standard JSON (RFC 8259) for a manifest cell or a record: a value that is not a finite number
    (the loudness of silence, -inf) is written as null, with its reason beside it under the same key
    followed by ``_not_finite`` (``"loudness": null, "loudness_not_finite": "-inf"``); Python's
    default would write ``-Infinity``, which no JSON reader but Python's takes."""
    return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        found: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(item, float) and not math.isfinite(item):
                found[key] = None
                found[f"{key}_not_finite"] = repr(item)
            else:
                found[key] = _finite(item)
        return found
    if isinstance(value, (list, tuple)):
        return [None if isinstance(v, float) and not math.isfinite(v) else _finite(v) for v in value]
    return value


class _Writer:
    """csv.writer, with every value holding a carriage return quoted too (csv quotes only the
    characters of its line terminator, and ours is "\\n")."""

    def __init__(self, handle: IO[str]):
        self.handle = handle
        self.plain = csv.writer(handle, lineterminator="\n")

    def writerow(self, row: Iterable[Any]) -> None:
        cells = list(row)
        if not any(isinstance(c, str) and "\r" in c for c in cells):
            self.plain.writerow(cells)
            return
        rendered = io.StringIO()
        csv.writer(rendered, lineterminator="\r\n").writerow(cells)  # quotes what holds \r or \n
        self.handle.write(rendered.getvalue()[:-2] + "\n")

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_line(cells: Iterable[Any]) -> str:
    """One row as every CSV audioaug writes renders it, without its line end (a manifest row made
    in the worker that wrote its file, so that the parent writes the manifest from text)."""
    rendered = io.StringIO()
    _Writer(rendered).writerow(cells)
    return rendered.getvalue()[:-1]


def csv_writer(handle: IO[str]) -> _Writer:
    """The writer of every CSV audioaug writes."""
    return _Writer(handle)


@contextmanager
def credentials_hidden(*where: str | Path | None) -> Iterator[None]:
    """Messages about --labels and --segments name a URL without its ``user:password@``."""
    try:
        yield
    except UsageError as exc:
        text = str(exc)
        for place in where:
            if isinstance(place, str) and without_credentials(place) != place:
                text = text.replace(place, without_credentials(place))
        if text == str(exc):
            raise
        raise UsageError(text) from None


def read_small_file(where: str | os.PathLike[str], options: dict[str, Any] | None = None) -> bytes:
    """A small file's bytes (--labels, --segments), from a path or a URL. Raises OSError when it
    cannot be read (ValueError for a local path that is not a regular file: a FIFO would block)."""
    store = open_store(where, options, str(where))
    if isinstance(store, LocalStore):
        if not store.root.is_file():
            if store.root.exists():
                raise ValueError("not a regular file (a FIFO, socket or device)")
            raise FileNotFoundError(errno.ENOENT, "No such file or directory")
        return store.root.read_bytes()
    assert isinstance(store, ObjectStore)
    data: bytes = store.fs.cat_file(store.root)
    return data


def read_table_bytes(where: str | os.PathLike[str], options: dict[str, Any] | None, what: str) -> tuple[bytes, str]:
    """A small CSV (``what``: "labels CSV", "segments CSV"): its bytes and its text. Every reason
    it cannot be read is a UsageError naming it."""
    try:
        data = read_small_file(where, options)
        return data, data.decode("utf-8-sig")
    except ValueError as exc:  # reading a FIFO waits for a writer for ever
        if isinstance(exc, UnicodeDecodeError):
            raise UsageError(f"{where}: cannot read the {what}: not UTF-8 text") from None
        raise UsageError(f"{where}: the {what} is not a regular file (a FIFO, socket or device)") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read the {what}: {reason(exc)}") from None
