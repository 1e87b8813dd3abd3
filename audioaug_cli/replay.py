"""`audioaug replay`: make outputs again from their manifest rows and the recorded config, and say
whether each is byte for byte the file on disk. The audit that an honest manifest makes possible."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audioaug_cli.config.model import AUDIO_FORMATS, Config
from audioaug_cli.engine.item import audio_bytes, augmenters_for, read_source, render_item
from audioaug_cli.engine.mixing import MixDraw, partner_reader
from audioaug_cli.engine.output_dir import output_dir as output_place
from audioaug_cli.engine.provenance import read_provenance, recorded_config
from audioaug_cli.engine.workers import process_pool, worker_count
from audioaug_cli.errors import ItemError, MissingInput, UsageError
from audioaug_cli.io.audio import convert, encode_audio
from audioaug_cli.io.inputs import Source
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.segments import SEGMENTS, read_written
from audioaug_cli.io.store import Store, open_store
from audioaug_cli.transforms.warning_capture import captured_warnings

if TYPE_CHECKING:
    from audioaug_cli.transforms.waveform import WaveformPipeline

MATCH = "match"


@dataclass(frozen=True)
class Replayed:
    file_name: str
    outcome: str  # "match", or what differs: "differs", "missing from OUTPUT_DIR", "cannot replay (...)"

    @property
    def matches(self) -> bool:
        return self.outcome == MATCH


def replay(
    output_dir: str | Path,
    file_names: Iterable[str] = (),
    input_dir: str | Path | None = None,
    jobs: int | None = 1,
    storage_options: dict[str, Any] | None = None,
) -> Iterator[Replayed]:
    """Replay the named outputs (audio or feature file names; none: every output), in manifest
    order. ``jobs`` worker processes share the sources (None: one per usable CPU); each source is
    decoded once, in one of them. Either folder may be a URL (``storage_options``: fsspec's)."""
    output = open_store(output_dir, storage_options, f"OUTPUT_DIR {output_dir}")
    try:
        previous = read_provenance(output)
        place = output_place(output)
        found = previous is not None and place.has_state()
    except (FileNotFoundError, PermissionError) as exc:
        raise UsageError(
            f"OUTPUT_DIR {output}: {'access denied' if isinstance(exc, PermissionError) else 'no such bucket'}"
        ) from None
    if previous is None or not found:
        raise UsageError(f"{output} holds no audioaug run (no audioaug.json and resume state)")
    where = input_dir or previous.input_dir
    if where is None:
        raise UsageError(
            "audioaug.json does not say where INPUT_DIR was (an older audioaug wrote it): give --input-dir"
        )
    inputs = open_store(where, storage_options, f"INPUT_DIR {where}")
    config = recorded_config(previous)
    state = place.open_state(readonly=True)
    try:
        rows = list(state.rows())
    finally:
        state.close()
    wanted = set(file_names)
    chosen = [row for row in rows if not wanted or wanted & set(row.files)]
    for name in sorted(wanted - {name for row in rows for name in row.files}):
        yield Replayed(name, "not in the manifest")
    by_source = [list(group) for _source, group in itertools.groupby(chosen, key=lambda row: row.source)]
    written = _segments_written(output) if config.segments else None
    workers = min(worker_count(jobs), len(by_source))
    if workers <= 1:
        for source_rows in by_source:
            yield from replay_source(config, output, inputs, source_rows, written)
        return
    with process_pool(workers) as executor:
        chunk = max(1, len(by_source) // (8 * workers))  # a few results per worker in flight
        for results in executor.map(
            replay_source,
            itertools.repeat(config),
            itertools.repeat(output),
            itertools.repeat(inputs),
            by_source,
            itertools.repeat(written),
            chunksize=chunk,
        ):
            yield from results


def replay_source(
    config: Config,
    output: Store,
    inputs: Store,
    rows: list[ManifestRow],
    segments: dict[str, list[tuple[str, str]]] | None = None,
) -> list[Replayed]:
    """The rows of one source (decoded once), made again and compared with their files, and with
    their rows of segments.csv (``segments``: its rows by file name) when the run had --segments."""
    source = _decode(inputs, rows[0].source, config.sample_rate, config.mono)
    if isinstance(source, str):
        return [Replayed(row.file_name, f"cannot replay ({row.source}: {source})") for row in rows]
    samples, rate = source
    found: list[Replayed] = []
    for row in rows:
        drawing = config.for_split(row.split)
        augmenter, features = augmenters_for(drawing)
        draw = _mix_draw(drawing, augmenter, inputs, rate, row)
        with np.errstate(all="ignore"), captured_warnings():  # said when the run made them
            try:
                item = render_item(
                    drawing, augmenter, features, samples.copy(), rate, row.copy, row.seed, row.segment_times, draw
                )
            except ItemError as exc:
                found.extend(Replayed(name, f"cannot replay ({exc})") for name in row.files)
                continue
        found.extend(_compare(output, row, audio_bytes(config, item, rate), item.feature))
        for stem, samples_of_stem in (item.stems or {}).items():
            name = (row.stems or {}).get(stem, stem)
            data = bytes(encode_audio(samples_of_stem, rate, AUDIO_FORMATS[config.format], config.subtype))
            found.append(_compare_bytes(output, name, data))
        if segments is not None:
            made = sorted((f"{start:.6f}", f"{end:.6f}") for start, end, _index in item.segments or ())
            same = made == sorted(segments.get(row.file_name, []))
            found.append(Replayed(f"{SEGMENTS} ({row.file_name})", MATCH if same else "differs"))
    return found


def _mix_draw(
    config: Config, augmenter: WaveformPipeline, inputs: Store, rate: int, row: ManifestRow
) -> MixDraw | None:
    """What a mixture was mixed with, as its manifest row records it."""
    if config.mix is None:
        return None
    entries = [entry for entry in json.loads(row.transforms) if entry["name"] == "Mix"]
    partners = tuple(p["source"] for p in entries[0]["params"].get("interference", [])) if entries else ()
    return MixDraw(partners, partner_reader(config, augmenter, inputs, rate, row.copy), row.split)


def _segments_written(output: Store) -> dict[str, list[tuple[str, str]]]:
    """segments.csv's (start, end) cells by file name (none when it is missing or unreadable)."""
    try:
        _columns, found = read_written(output)
    except (OSError, ValueError):
        return {}  # every output's segments then differ
    return {name: [(start, end) for start, end, _cells in rows] for name, rows in found.items()}


def _decode(inputs: Store, rel: str, sample_rate: int | None, mono: bool) -> tuple[np.ndarray, int] | str:
    try:
        return convert(*read_source(inputs, Source(rel, inputs.path(rel), "")), sample_rate, mono)
    except MissingInput:
        return "no such file in INPUT_DIR"
    except ItemError as exc:
        return str(exc)


def _compare(
    output: Store, row: ManifestRow, audio: memoryview | None, feature: np.ndarray | None
) -> Iterator[Replayed]:
    made: dict[str, bytes] = {}
    if audio is not None:
        made[row.file_name] = bytes(audio)
    if feature is not None and row.feature_file:
        buffer = io.BytesIO()
        np.save(buffer, feature, allow_pickle=False)
        made[row.feature_file] = buffer.getvalue()
    for name, data in made.items():
        yield _compare_bytes(output, name, data)


def _compare_bytes(output: Store, name: str, data: bytes) -> Replayed:
    try:
        written = output.read_bytes(name)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return Replayed(name, "missing from OUTPUT_DIR")
    return Replayed(name, MATCH if written == data else "differs")
