"""`audioaug replay`: make outputs again from their manifest rows and the recorded config, and say
whether each is byte for byte the file on disk. The audit that an honest manifest makes possible."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audioaug_cli.config.model import Config
from audioaug_cli.engine.item import audio_bytes, augmenters_for, render_item
from audioaug_cli.engine.provenance import read_provenance, recorded_config
from audioaug_cli.engine.state import STATE_DIR, RunState
from audioaug_cli.engine.workers import process_pool, worker_count
from audioaug_cli.errors import ItemError, UsageError
from audioaug_cli.io.audio import convert, read_audio
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.segments import SEGMENTS
from audioaug_cli.transforms.warning_capture import captured_warnings

MATCH = "match"


@dataclass(frozen=True)
class Replayed:
    file_name: str
    outcome: str  # "match", or what differs: "differs", "missing from OUTPUT_DIR", "cannot replay (...)"

    @property
    def matches(self) -> bool:
        return self.outcome == MATCH


def replay(
    output_dir: Path, file_names: Iterable[str] = (), input_dir: Path | None = None, jobs: int | None = 1
) -> Iterator[Replayed]:
    """Replay the named outputs (audio or feature file names; none: every output), in manifest
    order. ``jobs`` worker processes share the sources (None: one per usable CPU); each source is
    decoded once, in one of them."""
    previous = read_provenance(output_dir)
    if previous is None or not (output_dir / STATE_DIR / "state.sqlite").exists():
        raise UsageError(f"{output_dir} holds no audioaug run (no audioaug.json and resume state)")
    source_dir = input_dir or (Path(previous.input_dir) if previous.input_dir else None)
    if source_dir is None:
        raise UsageError(
            "audioaug.json does not say where INPUT_DIR was (an older audioaug wrote it): give --input-dir"
        )
    config = recorded_config(previous)
    state = RunState(output_dir, readonly=True)
    try:
        rows = list(state.rows())
    finally:
        state.close()
    wanted = set(file_names)
    chosen = [row for row in rows if not wanted or wanted & set(row.files)]
    for name in sorted(wanted - {name for row in rows for name in row.files}):
        yield Replayed(name, "not in the manifest")
    by_source = [list(group) for _source, group in itertools.groupby(chosen, key=lambda row: row.source)]
    written = _segments_written(output_dir) if config.segments else None
    workers = min(worker_count(jobs), len(by_source))
    if workers <= 1:
        for source_rows in by_source:
            yield from replay_source(config, output_dir, source_dir, source_rows, written)
        return
    with process_pool(workers) as executor:
        chunk = max(1, len(by_source) // (8 * workers))  # a few results per worker in flight
        for results in executor.map(
            replay_source,
            itertools.repeat(config),
            itertools.repeat(output_dir),
            itertools.repeat(source_dir),
            by_source,
            itertools.repeat(written),
            chunksize=chunk,
        ):
            yield from results


def replay_source(
    config: Config,
    output_dir: Path,
    source_dir: Path,
    rows: list[ManifestRow],
    segments: dict[str, list[tuple[str, str]]] | None = None,
) -> list[Replayed]:
    """The rows of one source (decoded once), made again and compared with their files, and with
    their rows of segments.csv (``segments``: its rows by file name) when the run had --segments."""
    augmenter, features = augmenters_for(config)
    source = _decode(source_dir / rows[0].source, config.sample_rate, config.mono)
    if isinstance(source, str):
        return [Replayed(row.file_name, f"cannot replay ({row.source}: {source})") for row in rows]
    samples, rate = source
    found: list[Replayed] = []
    for row in rows:
        with np.errstate(all="ignore"), captured_warnings():  # said when the run made them
            item = render_item(config, augmenter, features, samples.copy(), rate, row.copy, row.seed, row.segment_times)
        found.extend(_compare(output_dir, row, audio_bytes(config, item, rate), item.feature))
        if segments is not None:
            made = sorted((f"{start:.6f}", f"{end:.6f}") for start, end, _index in item.segments or ())
            same = made == sorted(segments.get(row.file_name, []))
            found.append(Replayed(f"{SEGMENTS} ({row.file_name})", MATCH if same else "differs"))
    return found


def _segments_written(output_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """segments.csv's (start, end) cells by file name (none when it is missing)."""
    import csv

    found: dict[str, list[tuple[str, str]]] = {}
    try:
        with (output_dir / SEGMENTS).open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                found.setdefault(row["file_name"], []).append((row["start"], row["end"]))
    except (OSError, KeyError, UnicodeDecodeError, csv.Error):
        pass  # every output's segments then differ
    return found


def _decode(path: Path, sample_rate: int | None, mono: bool) -> tuple[np.ndarray, int] | str:
    if not path.exists():
        return "no such file in INPUT_DIR"
    try:
        return convert(*read_audio(path), sample_rate, mono)
    except ItemError as exc:
        return str(exc)


def _compare(
    output_dir: Path, row: ManifestRow, audio: memoryview | None, feature: np.ndarray | None
) -> Iterator[Replayed]:
    made: dict[str, bytes] = {}
    if audio is not None:
        made[row.file_name] = bytes(audio)
    if feature is not None and row.feature_file:
        buffer = io.BytesIO()
        np.save(buffer, feature, allow_pickle=False)
        made[row.feature_file] = buffer.getvalue()
    for name, data in made.items():
        path = output_dir / name
        if not path.is_file():
            yield Replayed(name, "missing from OUTPUT_DIR")
        else:
            yield Replayed(name, MATCH if path.read_bytes() == data else "differs")
