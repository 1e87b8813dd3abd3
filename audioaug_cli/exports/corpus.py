"""A finished OUTPUT_DIR as every export reads it: each output with its labels and segments, from
the manifest, segments.csv and audioaug.json. No audio is decoded here."""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from typing import Any

from audioaug_cli.engine.provenance import read_provenance
from audioaug_cli.errors import UsageError
from audioaug_cli.io.manifest import FEATURE_COLUMNS, STEM_COLUMNS, ManifestRow
from audioaug_cli.io.segments import SEGMENTS, read_written
from audioaug_cli.io.store import Store, open_store


@dataclass(frozen=True)
class Segment:
    """A labelled stretch of an output, in its own seconds, with segments.csv's other cells."""

    start: float
    end: float
    cells: dict[str, str]


@dataclass(frozen=True)
class Output:
    """One output file: its manifest row (typed), its label columns and its segments."""

    row: dict[str, Any]  # every manifest column, numbers as numbers, transforms as a list
    labels: dict[str, str]  # the --labels columns, as the manifest holds them
    segments: tuple[Segment, ...] | None  # None when the run had no --segments

    @property
    def file_name(self) -> str:
        return str(self.row["file_name"])

    @property
    def source(self) -> str:
        return str(self.row["source"])

    @property
    def sample_rate(self) -> int:
        return int(self.row["sample_rate"])

    @property
    def channels(self) -> int:
        return int(self.row["channels"])

    @property
    def frames(self) -> int:
        return int(self.row["frames"])

    @property
    def duration(self) -> float:
        """Exactly frames / sample_rate (the manifest's column is rounded to 6 decimals)."""
        return self.frames / self.sample_rate

    @property
    def stems(self) -> dict[str, str]:
        """With mix:, each stem beside the mixture: its file, by stem ("target", "noise", ...)."""
        return {c.removesuffix("_file"): str(v) for c, v in self.row.items() if c in STEM_COLUMNS and v}

    @property
    def has_audio(self) -> bool:
        """False when only a feature was written (spectrogram.write_audio: false)."""
        return not self.file_name.endswith(".npy")

    def stem(self) -> str:
        """The file name without its extension: 'speech/a b__aug1'."""
        folder, _slash, name = self.file_name.rpartition("/")
        base = name.rpartition(".")[0] or name
        return f"{folder}/{base}" if folder else base

    def spans(self) -> tuple[Segment | None, ...]:
        """What a toolkit gets one supervision (utterance, manifest line) for: each segment when
        the run had --segments (none for an output without any), else the whole file (None)."""
        return (None,) if self.segments is None else self.segments

    def fields(self, segment: Segment | None = None) -> dict[str, str]:
        """The labels of the output, or of one of its segments (a segment's cells win)."""
        return {**self.labels, **segment.cells} if segment is not None else dict(self.labels)


@dataclass(frozen=True)
class Corpus:
    store: Store
    outputs: tuple[Output, ...]  # in the manifest's order: by source, then copy
    label_columns: tuple[str, ...]
    segment_columns: tuple[str, ...] | None  # None: no --segments

    def location(self, name: str) -> str:
        """Where a consumer finds a file of OUTPUT_DIR: an absolute path, or the store's URL."""
        return self.store.location(name)

    @property
    def has_stems(self) -> bool:
        return any(output.stems for output in self.outputs)

    def columns(self) -> tuple[str, ...]:
        """Every field a label can come from: --labels columns, then segments.csv's."""
        return (*self.label_columns, *(c for c in self.segment_columns or () if c not in self.label_columns))


def read_corpus(output_dir: str | os.PathLike[str], options: dict[str, Any] | None = None) -> Corpus:
    """The outputs of a finished OUTPUT_DIR. UsageError (exit 2) for anything else."""
    store = open_store(output_dir, options, f"OUTPUT_DIR {output_dir}")
    provenance = read_provenance(store)
    if provenance is None:
        raise UsageError(f"OUTPUT_DIR {store} holds no audioaug.json: it is not what `audioaug run` writes")
    if provenance.status != "complete":
        how = {
            "running": "it is still running, or was killed",
            "stopped": "--fail-fast stopped it at its first failure",
        }.get(provenance.status, provenance.status)
        raise UsageError(
            f"OUTPUT_DIR {store}: its last run did not finish ({how}), so its manifest does not describe it; "
            "rerun the same `audioaug run` command to complete it, then export"
        )
    manifest = provenance.config["output"]["manifest"]
    try:
        text = store.read_text(manifest)
    except FileNotFoundError:
        raise UsageError(f"{store.shown(manifest)} is missing: rerun `audioaug run` to write it") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = tuple(next(reader, ()))
    known = (*FEATURE_COLUMNS, *STEM_COLUMNS)
    standard = [c for c in known if c in header]
    labels = tuple(c for c in header if c not in known)
    segments = _segments(store) if provenance.config.get("segments") else None
    outputs = []
    for cells in reader:
        found = dict(zip(header, cells, strict=False))  # (a short row: its last cells empty)
        row = {c: _typed(c, found.get(c, "")) for c in standard}
        row.update((c, found.get(c, "")) for c in labels)
        spans = tuple(segments[1].get(str(row["file_name"]), ())) if segments is not None else None
        outputs.append(Output(row, {c: found.get(c, "") for c in labels}, spans))
    return Corpus(store, tuple(outputs), labels, segments[0] if segments is not None else None)


def _typed(column: str, value: str) -> Any:
    if column == "transforms":
        return json.loads(value) if value else []
    if value == "":
        return None
    return value if column in STEM_COLUMNS else ManifestRow.cell_type(column)(value)


def _segments(store: Store) -> tuple[tuple[str, ...], dict[str, list[Segment]]]:
    """segments.csv's extra columns, and each output's segments in the file's order (by start)."""
    try:
        columns, rows = read_written(store)
    except FileNotFoundError:
        raise UsageError(f"{store.shown(SEGMENTS)} is missing: rerun `audioaug run` to write it") from None
    except ValueError as exc:
        raise UsageError(f"{exc}: rerun `audioaug run` to write it again") from None
    found = {
        name: [Segment(float(start), float(end), cells) for start, end, cells in segments]
        for name, segments in rows.items()
    }
    return columns, found


def require_items(corpus: Corpus, format_name: str, spans: bool = True) -> None:
    """Refuse (exit 2) an export that would hold nothing: no outputs, or (``spans``: for a format
    of one item per segment) no output with a segment."""
    if not corpus.outputs:
        raise UsageError(f"OUTPUT_DIR {corpus.store} holds no outputs: nothing to export to {format_name}")
    if spans and not any(output.spans() for output in corpus.outputs):
        raise UsageError(
            f"{corpus.store.shown(SEGMENTS)} has no segment of any output, so a {format_name} export would hold "
            "no utterance: the --segments table of the run named no input found (file_name is relative to "
            "INPUT_DIR); fix it and rerun `audioaug run` with it"
        )


def require_audio(corpus: Corpus, format_name: str) -> None:
    """Refuse (exit 2) an OUTPUT_DIR of features only for a format that holds audio."""
    if any(not output.has_audio for output in corpus.outputs):
        raise UsageError(
            f"OUTPUT_DIR {corpus.store} holds features only (spectrogram.write_audio: false), and "
            f"{format_name} needs audio; export it --to webdataset, or rerun with audio written"
        )
