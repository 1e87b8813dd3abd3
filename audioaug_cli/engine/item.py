"""One unit of work, as a worker runs it: decode an input once, augment and write its copies.

Nothing here raises for a bad input: each item's outcome is an :class:`Outcome`, a manifest row
or a one-line error. What an item draws belongs to it alone (see :mod:`audioaug_cli.transforms.compat`
and :class:`~audioaug_cli.transforms.waveform.WaveformPipeline`), so the same item gives the same
bytes in any process or thread.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from audioaug_cli.config.model import AUDIO_FORMATS, Config
from audioaug_cli.engine.ledger import Ledger
from audioaug_cli.engine.store_state import WorkerRecords
from audioaug_cli.engine.tasks import Finished, Outcome, Task, item_files, item_seed, manifest_columns
from audioaug_cli.errors import ItemError, is_disk_full
from audioaug_cli.io.audio import (
    FLOAT_SUBTYPES,
    all_finite,
    convert,
    decode_audio,
    encode_audio,
    write_audio,
)
from audioaug_cli.io.inputs import UNDESCRIBED, Source, described
from audioaug_cli.io.manifest import ManifestRow
from audioaug_cli.io.store import Store

if TYPE_CHECKING:
    from audioaug_cli.engine.mixing import MixDraw
    from audioaug_cli.transforms.spectrogram import FeatureAugmenter
    from audioaug_cli.transforms.waveform import WaveformPipeline

DISK_FULL = "no space left on OUTPUT_DIR's filesystem"


# One of each per config in a process, shared by its threads (WaveformPipeline gives each thread its own copy).
_augmenters: dict[tuple[str, str], tuple[WaveformPipeline, FeatureAugmenter | None]] = {}
_augmenters_lock = threading.Lock()


def augmenters_for(config: Config) -> tuple[WaveformPipeline, FeatureAugmenter | None]:
    key = (config.hash, config.base_dir)
    found = _augmenters.get(key)
    if found is not None:  # (every item but a process's first)
        return found
    from audioaug_cli.transforms.spectrogram import FeatureAugmenter
    from audioaug_cli.transforms.waveform import WaveformPipeline

    with _augmenters_lock:
        if key not in _augmenters:
            features = FeatureAugmenter(config.spectrogram) if config.spectrogram is not None else None
            _augmenters[key] = (WaveformPipeline(config.pipeline, config.base_dir), features)
        return _augmenters[key]


def read_source(inputs: Store, source: Source) -> tuple[np.ndarray, int]:
    """An input's audio: read from its file, or fetched from its store in one request."""
    found: tuple[np.ndarray, int] = inputs.read_audio(source.path, source.rel, source.excerpt)
    return found


def augment_source(
    config: Config, task: Task, inputs: Store, output: Store, progress: str | None = None
) -> list[Outcome]:
    """Decode one input once and write each of its pending copies. Never raises for bad input."""
    return [outcome for outcomes in augment_stream(config, [task], inputs, output, progress) for outcome in outcomes]


def augment_unit(
    config: Config,
    unit: list[Task],
    inputs: Store,
    output: Store,
    recording: str | Ledger | None = None,
    hand_back_over: int | None = None,
) -> Finished:
    """One unit of work in a worker: its tasks in order, and what they did as the parent records
    it. ``recording``: where on a store the worker records what it wrote while the unit is still
    running (see :class:`WorkerRecords`), or the resume state the worker records the unit in
    itself (a :class:`Ledger`). ``hand_back_over``: of a unit of files the walk left for the worker
    to describe, the tasks beyond this many bytes x copies are handed back undone (see
    :func:`_large_handed_back`)."""
    started = time.perf_counter()
    handed_back: list[Task] = []
    if hand_back_over is not None:
        unit, handed_back = _large_handed_back(unit, hand_back_over)
    progress = recording if isinstance(recording, str) else None
    outcomes = [outcome for outcomes in augment_stream(config, unit, inputs, output, progress) for outcome in outcomes]
    done = Finished.of(outcomes, manifest_columns(config), time.perf_counter() - started)
    done.handed_back = handed_back
    if isinstance(recording, Ledger):
        recording.record(done, output)
    return done


def _large_handed_back(unit: list[Task], limit: int) -> tuple[list[Task], list[Task]]:
    """A unit made of files the walk left for the worker to describe, described now: the tasks
    that fit in ``limit`` bytes x copies (at least the first, if it has one copy), and those to hand
    back, to be made into units by size as the parent would have made them had it known."""
    if all(task.source.fingerprint != UNDESCRIBED for task in unit):
        return unit, []
    kept: list[Task] = []
    back: list[Task] = []
    load = 0
    for task in unit:
        if task.source.fingerprint == UNDESCRIBED:
            task = replace(task, source=described(task.source))
        load += max(task.source.size, 1) * len(task.copies)
        fits = load <= limit or (not kept and len(task.copies) == 1)
        (kept if fits and not back else back).append(task)
    return kept, back


def augment_stream(
    config: Config, tasks: Iterable[Task], inputs: Store, output: Store, progress: str | None = None
) -> Iterator[list[Outcome]]:
    """Each task's outcomes as it finishes. What every item needs around it (numpy's error state,
    the warning hook, the process's filters kept) is set up once."""
    from audioaug_cli.transforms.warning_capture import captured_warnings

    records = WorkerRecords(output, progress) if progress is not None else None
    with np.errstate(all="ignore"), captured_warnings():  # overflow etc.: each item checks its audio
        for task in tasks:
            yield _augment_source(config, task, inputs, output, records)


def _augment_source(
    config: Config, task: Task, inputs: Store, output: Store, records: WorkerRecords | None = None
) -> list[Outcome]:
    from audioaug_cli.transforms.warning_capture import captured_warnings

    source = described(task.source)
    problem = source.problem or _name_too_long(config, source.rel, task.copies, output)
    if problem is not None:
        return [Outcome(source.rel, c, source.fingerprint, error=problem) for c in task.copies]
    try:
        samples, sample_rate = read_source(inputs, source)
        _check_segments(task.segments, samples.shape[-1] / sample_rate, config.sample_rate or sample_rate)
        samples, sample_rate = convert(samples, sample_rate, config.sample_rate, config.mono)
    except ItemError as exc:
        return [Outcome(source.rel, c, source.fingerprint, error=str(exc)) for c in task.copies]
    drawing = config.for_split(task.split)
    augmenter, features = augmenters_for(drawing)
    outcomes = []
    for i, copy in enumerate(task.copies):
        seed = item_seed(config.seed, source.rel, copy)
        files = item_files(config, source.rel, copy)
        warned: list[str] = []
        draw = None
        if config.mix is not None:
            from audioaug_cli.engine.mixing import MixDraw, partner_reader

            partners = task.partners[i] if task.partners is not None else ()
            draw = MixDraw(partners, partner_reader(config, augmenter, inputs, sample_rate, copy), task.split)
        try:
            with captured_warnings() as warned:
                source_samples = samples.copy(order="K") if len(task.copies) > 1 else samples
                item = render_item(
                    drawing, augmenter, features, source_samples, sample_rate, copy, seed, task.segments, draw
                )
                for name, stem in zip(files[1:], (item.stems or {}).values(), strict=False):
                    write_audio(name, stem, sample_rate, AUDIO_FORMATS[config.format], config.subtype, store=output)
                if item.feature is not None:  # the feature first: a finished item always has both
                    with output.open_write(files[-1]) as handle:
                        np.save(handle, item.feature, allow_pickle=False)
                if item.audio is not None:
                    output.write_bytes(files[0], item.audio)
                elif writes_audio(config):
                    write_audio(
                        files[0], item.samples, sample_rate, AUDIO_FORMATS[config.format], config.subtype, store=output
                    )
            out, applied, level = item.samples, item.applied, item.level
        except BaseException as exc:  # any failure is this item's alone, but for a full disk
            if not isinstance(exc, Exception) and not _is_panic(exc):
                raise  # Ctrl-C, SystemExit
            full = is_disk_full(exc)
            error = DISK_FULL if full else above_nyquist(augmenter.drawn(), sample_rate) or one_line(exc)
            outcomes.append(
                Outcome(source.rel, copy, source.fingerprint, error=error, warnings=tuple(warned), disk_full=full)
            )
            continue
        channels, frames = (1, out.shape[0]) if out.ndim == 1 else out.shape
        row = ManifestRow.make(
            file_name=files[0],
            source=source.rel,
            copy=copy,
            seed=seed,
            sample_rate=sample_rate,
            channels=channels,
            frames=frames,
            transforms=applied,
            feature_file=files[-1] if features is not None else None,
            peak_db=level.peak_db,
            clipped=level.clipped,
            segment_times=task.segments,
            segments=item.segments,
            stems=dict(zip(item.stems, files[1:], strict=True)) if item.stems is not None else None,
            split=task.split,
        )
        outcomes.append(Outcome(source.rel, copy, source.fingerprint, row=row, warnings=tuple(warned)))
        if records is not None:
            records.note(outcomes[-1])
    return outcomes


def _check_segments(segments: tuple[tuple[float, float], ...] | None, seconds: float, rate: int) -> None:
    """A segment past the end of its file. The run checks a local INPUT_DIR's before any work;
    an input in a store is checked here, by the worker that fetched it, and fails alone."""
    if not segments:
        return
    from audioaug_cli.io.segments import ends_after

    for start, end in segments:
        if ends_after(end, seconds, rate):
            raise ItemError(
                f"--segments: the segment {start}-{end} s ends after this file, which lasts {seconds:.6f} s"
            )


def _name_too_long(config: Config, source: str, copies: tuple[int, ...], output: Store) -> str | None:
    """Why this source's outputs cannot be named in OUTPUT_DIR, or None."""
    return output.name_problem([name for copy in copies for name in item_files(config, source, copy)])


@dataclass(frozen=True)
class RenderedItem:
    """An item made in memory: what its files will hold, and what was applied."""

    samples: np.ndarray  # the augmented audio, channels first, before encoding
    audio: memoryview | None  # the audio file's bytes, when made in memory (see render_item)
    feature: np.ndarray | None  # the .npy's array, with a spectrogram: section
    applied: list[dict[str, Any]]  # the manifest's transforms
    level: Level  # the audio's peak, and what the output format cuts off
    segments: tuple[tuple[float, float, int], ...] | None = None  # (start, end, index): where they are now
    stems: dict[str, np.ndarray] | None = None  # with mix: each stem beside the mixture, by folder


def render_item(
    config: Config,
    augmenter: WaveformPipeline,
    features: FeatureAugmenter | None,
    samples: np.ndarray,
    sample_rate: int,
    copy: int,
    seed: int,
    segments: tuple[tuple[float, float], ...] | None = None,
    draw: MixDraw | None = None,
) -> RenderedItem:
    """One item, in memory: what `run` writes and `replay` compares. Copy 0 is the source as it
    is (--include-original), with its clean feature.

    A feature is computed from the audio as its file holds it, so with a ``spectrogram:`` section
    the file is encoded here and ``audio`` holds its bytes. Without one, ``audio`` is None: `run`
    encodes ``samples`` straight into the file (see :func:`audio_bytes` for the same bytes in memory).
    """
    applied: list[dict[str, Any]] = []
    if copy == 0:
        out = samples
    else:
        out, applied = augmenter.augment(samples, sample_rate, seed, copy)
    steps = augmenter.timeline() if copy != 0 and config.pipeline else []
    stems = None
    if config.mix is not None and draw is not None:
        from audioaug_cli.engine.mixing import mix_item

        if not all_finite(out):
            raise ItemError(above_nyquist(applied, sample_rate) or "the augmented audio holds NaN or infinite samples")
        out, applied, stems, more_steps = mix_item(config, out, applied, sample_rate, copy, seed, draw)
        steps = [*steps, *more_steps]
    peaking = above_nyquist([e for e in applied if e["name"] == "PeakingFilter"], sample_rate)
    if peaking:  # a peak above Nyquist is no filter at all: NaN, or noise
        raise ItemError(peaking)
    if applied and not all_finite(out):  # with nothing applied, out is the checked input
        raise ItemError(above_nyquist(applied, sample_rate) or "the augmented audio holds NaN or infinite samples")
    out, applied, level = _within_full_scale(config, out, applied)
    mapped = None
    if segments is not None:
        from audioaug_cli.transforms.timing import in_seconds, map_spans, spans_of

        spans = map_spans(spans_of(segments, sample_rate), steps, sample_rate, out.shape[-1])
        mapped = tuple(in_seconds(spans, sample_rate))
    if features is None:
        return RenderedItem(out, None, None, applied, level, mapped, stems)
    encoded = (
        encode_audio(out, sample_rate, AUDIO_FORMATS[config.format], config.subtype) if writes_audio(config) else None
    )
    written = decode_audio(encoded) if encoded is not None else out  # the feature is of the audio as written
    if copy == 0:
        return RenderedItem(out, encoded, features.clean(written, sample_rate), applied, level, mapped)
    feature, spectral = features.augment(written, sample_rate, seed)
    return RenderedItem(out, encoded, feature, applied + spectral, level, mapped)


NORMALIZED_PEAK_DB = -0.1  # output.clip: normalize scales an item that would clip to this peak


@dataclass(frozen=True)
class Level:
    """How loud an item is: its peak in dBFS (None when silent), and how many samples lie beyond
    full scale where the output format cannot hold them (integer and compressed subtypes)."""

    peak: float  # the largest absolute sample
    clipped: int

    @property
    def peak_db(self) -> float | None:
        return round(20 * math.log10(self.peak), 2) if self.peak > 0 else None

    @classmethod
    def of(cls, samples: np.ndarray, subtype: str) -> Level:
        # no full-size temporary: a 10-minute stereo item is 230 MB of float32 already
        peak = max(float(samples.max()), -float(samples.min())) if samples.size else 0.0
        if peak <= 1.0 or subtype in FLOAT_SUBTYPES:
            return cls(peak, 0)
        return cls(peak, int(np.count_nonzero(samples > 1.0)) + int(np.count_nonzero(samples < -1.0)))


def _within_full_scale(
    config: Config, out: np.ndarray, applied: list[dict[str, Any]]
) -> tuple[np.ndarray, list[dict[str, Any]], Level]:
    """``output.clip``: an item the output format would clip is kept (the manifest says so),
    scaled down to NORMALIZED_PEAK_DB (recorded as a last ``Normalize``), or failed."""
    level = Level.of(out, config.subtype)
    if not level.clipped or config.clip == "keep":
        return out, applied, level
    if config.clip == "fail":
        raise ItemError(
            f"clipped: its peak is {level.peak_db:+.2f} dBFS and {level.clipped} sample(s) lie beyond full scale, "
            f"which {config.subtype} cannot hold; lower the gain, or set output.clip: normalize"
        )
    gain_db = NORMALIZED_PEAK_DB - 20 * math.log10(level.peak)
    scaled = (out * np.float32(10 ** (gain_db / 20))).astype(out.dtype, copy=False)
    normalized = [*applied, {"name": "Normalize", "params": {"gain_db": round(gain_db, 6)}}]
    return scaled, normalized, Level.of(scaled, config.subtype)


def above_nyquist(applied: list[dict[str, Any]], sample_rate: int) -> str | None:
    """The reason an item failed when a filter drew frequencies above the input's Nyquist frequency."""
    for entry in applied:
        frequency = entry["params"].get("center_freq", entry["params"].get("cutoff_freq"))
        if isinstance(frequency, (int, float)) and frequency >= sample_rate / 2:
            return (
                f"{entry['name']}: its frequencies lie above this input's Nyquist frequency ({sample_rate // 2} "
                "Hz), where it cannot filter; lower them, or resample every input with `audio: {sample_rate: "
                "...}` in the config"
            )
    return None


def writes_audio(config: Config) -> bool:
    """Whether items have an audio file (not with ``spectrogram.write_audio: false``)."""
    return config.spectrogram is None or config.spectrogram.write_audio


def audio_bytes(config: Config, item: RenderedItem, sample_rate: int) -> memoryview | None:
    """The bytes of an item's audio file (None when items have none)."""
    if item.audio is not None or not writes_audio(config):
        return item.audio
    return encode_audio(item.samples, sample_rate, AUDIO_FORMATS[config.format], config.subtype)


def _is_panic(exc: BaseException) -> bool:
    """A Rust extension's panic (pyo3 raises it as a BaseException): the item's failure, not the run's."""
    return type(exc).__name__ == "PanicException"


def one_line(exc: BaseException) -> str:
    """An item's failure as one line: our own messages as they are, others with their type."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ItemError):
        return text
    if type(exc).__name__ == "MultichannelAudioNotSupportedException":  # raised by audiomentations
        return (
            f"{text.split()[0]} works on mono audio only, and this input has more than one channel: "
            "`audio: {mono: true}` in the config mixes every input down to mono"
        )
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
