"""`audioaug replay`: make outputs again from their manifest rows and the recorded config, and say
whether each is byte for byte the file on disk. The audit that an honest manifest makes possible."""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .audio_io import convert, read_audio
from .errors import ItemError, UsageError
from .items import audio_bytes, augmenters_for, render_item
from .manifest import ManifestRow
from .pipeline import captured_warnings
from .provenance import read_provenance, recorded_config
from .state import STATE_DIR, RunState

MATCH = "match"


@dataclass(frozen=True)
class Replayed:
    file_name: str
    outcome: str  # "match", or what differs: "differs", "missing from OUTPUT_DIR", "cannot replay (...)"

    @property
    def matches(self) -> bool:
        return self.outcome == MATCH


def replay(output_dir: Path, file_names: Iterable[str] = (), input_dir: Path | None = None) -> Iterator[Replayed]:
    """Replay the named outputs (audio or feature file names; none: every output)."""
    previous = read_provenance(output_dir)
    if previous is None or not (output_dir / STATE_DIR / "state.sqlite").exists():
        raise UsageError(f"{output_dir} holds no audioaug run (no audioaug.json and resume state)")
    source_dir = input_dir or (Path(previous.input_dir) if previous.input_dir else None)
    if source_dir is None:
        raise UsageError("audioaug.json does not say where INPUT_DIR was (an older audioaug wrote it): "
                         "give --input-dir")
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
    augmenter, features = augmenters_for(config)
    decoded: dict[str, tuple[np.ndarray, int] | str] = {}
    for row in chosen:
        if row.source not in decoded:
            decoded.clear()  # rows come sorted by source: one input in memory at a time
            decoded[row.source] = _decode(source_dir / row.source, config.sample_rate, config.mono)
        source = decoded[row.source]
        if isinstance(source, str):
            yield Replayed(row.file_name, f"cannot replay ({row.source}: {source})")
            continue
        samples, rate = source
        with np.errstate(all="ignore"), captured_warnings():  # said when the run made them
            item = render_item(config, augmenter, features, samples.copy(), rate, row.copy, row.seed)
        yield from _compare(output_dir, row, audio_bytes(config, item, rate), item.feature)


def _decode(path: Path, sample_rate: int | None, mono: bool) -> tuple[np.ndarray, int] | str:
    if not path.exists():
        return "no such file in INPUT_DIR"
    try:
        return convert(*read_audio(path), sample_rate, mono)
    except ItemError as exc:
        return str(exc)


def _compare(output_dir: Path, row: ManifestRow, audio: memoryview | None, feature: np.ndarray | None
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
