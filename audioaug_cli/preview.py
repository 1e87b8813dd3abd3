"""`audioaug preview`: a few variants of one file, made exactly as `run` makes them, and one picture
of the original and each variant (waveform, log-mel spectrogram, and the augmented feature when
the config has a `spectrogram:` section), each titled with what was applied."""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audioaug_cli.config.model import Config
from audioaug_cli.engine.item import augment_source
from audioaug_cli.engine.tasks import Outcome, Task
from audioaug_cli.errors import ConfigError, ItemError, UsageError
from audioaug_cli.io.audio import Excerpt, read_audio
from audioaug_cli.io.inputs import NOT_UTF8, Source, escaped, is_utf8
from audioaug_cli.io.store import LocalStore

PREVIEW_HINT = "pip install matplotlib"


@dataclass(frozen=True)
class Preview:
    picture: Path
    outcomes: list[Outcome]


def make_preview(
    config: Config,
    audio_file: Path,
    output_dir: Path,
    excerpt: Excerpt | None = None,
    segments: list[tuple[float, float]] | None = None,
) -> Preview:
    """Write the config's variants of ``audio_file`` into ``output_dir`` through the run's own
    item function (same seeds, same files, same manifest rows), then ``<stem>.png`` beside them.

    With ``excerpt``, the variants are of that part of the file alone (the seeds are still the
    file's): a quick look at a long recording, not what `run` writes for the whole of it.
    ``segments`` (seconds in the file) are drawn as spans on each waveform, where each variant
    moved them."""
    if not audio_file.is_file():
        raise UsageError(f"AUDIO_FILE {escaped(str(audio_file))} is not a regular file")
    try:
        import matplotlib
    except ImportError:
        raise UsageError(f"preview draws with matplotlib, which is not installed: {PREVIEW_HINT}") from None
    matplotlib.use("Agg")  # no screen needed, and nothing else of the caller's matplotlib changes
    stat = audio_file.stat()
    source = Source(
        escaped(audio_file.name),
        str(audio_file),
        f"{stat.st_size}:{stat.st_mtime_ns}",
        None if is_utf8(audio_file.name) else NOT_UTF8,
        stat.st_size,
        excerpt,
    )
    if segments is not None:
        from audioaug_cli.transforms.timing import time_problems

        problems = time_problems(config.pipeline)
        if problems:
            raise ConfigError("the config (with --segments)", problems)
    if segments is not None and excerpt is not None:  # times in the excerpt
        last = excerpt.start + excerpt.duration if excerpt.duration is not None else float("inf")
        segments = [
            (max(s, excerpt.start) - excerpt.start, min(e, last) - excerpt.start)
            for s, e in segments
            if e > excerpt.start and s < last
        ]
    times = tuple(segments) if segments is not None else None
    folder = LocalStore(Path(output_dir).absolute())
    outcomes = augment_source(config, Task(source, config.copy_numbers(), times), folder, folder)
    failed = [o for o in outcomes if o.error is not None]
    if failed:
        raise ItemError(f"{escaped(str(audio_file))}: {failed[0].error}")
    figure = preview_figure(config, audio_file, output_dir, outcomes, excerpt, times)
    picture = output_dir / f"{audio_file.stem}.png"
    from audioaug_cli.io.atomic import atomic_file

    with atomic_file(picture) as handle:
        figure.savefig(handle, format="png", dpi=100)
    import matplotlib.pyplot as plt

    plt.close(figure)
    return Preview(picture, outcomes)


def preview_figure(
    config: Config,
    audio_file: Path,
    output_dir: Path,
    outcomes: list[Outcome],
    excerpt: Excerpt | None = None,
    segments: tuple[tuple[float, float], ...] | None = None,
) -> Any:
    """The figure: one row for the original and one per variant; columns waveform, log-mel
    spectrogram, and with a spectrogram: section the feature as written."""
    import matplotlib.pyplot as plt

    original, rate = read_audio(audio_file, excerpt)
    clean = None
    if config.spectrogram is not None:
        from audioaug_cli.io.audio import convert
        from audioaug_cli.transforms.spectrogram import clean_feature

        converted, converted_rate = convert(original, rate, config.sample_rate, config.mono)
        clean = clean_feature(converted, converted_rate, config.spectrogram)
    part = (
        ""
        if excerpt is None
        else f" (from {excerpt.start:g} s" + (f", {excerpt.duration:g} s)" if excerpt.duration is not None else ")")
    )
    rows: list[tuple[str, np.ndarray, int, np.ndarray | None, list[tuple[float, float]]]] = [
        (f"original: {audio_file.name}{part}", original, rate, clean, list(segments or ()))
    ]
    for outcome in outcomes:
        row = outcome.row
        if row is None:
            continue
        audio = read_audio(output_dir / row.file_name)[0] if row.file_name.endswith(config.extension) else None
        feature = np.load(output_dir / row.feature_file) if row.feature_file else None
        rows.append(
            (
                f"copy {row.copy}: {describe(json.loads(row.transforms))}",
                audio if audio is not None else original,
                row.sample_rate,
                feature,
                [(start, end) for start, end, _index in row.segments or ()],
            )
        )
    columns = 3 if config.spectrogram is not None else 2
    figure = plt.figure(figsize=(5 * columns, 3.1 * len(rows)), layout="constrained")
    row_figures = figure.subfigures(len(rows), 1, squeeze=False)[:, 0]
    for (title, audio, sample_rate, feature, spans), row_figure in zip(rows, row_figures, strict=True):
        row_figure.suptitle("\n".join(textwrap.wrap(title, 55 * columns)), x=0.01, ha="left", fontsize=9)
        line = row_figure.subplots(1, columns)
        _waveform(line[0], audio, sample_rate)
        for start, end in spans:  # --segments, where this row's transforms moved them
            line[0].axvspan(start, end, color="tab:orange", alpha=0.3, linewidth=0)
        _log_mel(line[1], audio, sample_rate)
        if columns == 3:
            _feature(line[2], feature, config, clean=feature is clean)
    return figure


def describe(applied: list[dict[str, Any]]) -> str:
    """'PitchShift(num_semitones=2.31), SpecTimeMask(masks=[[3, 40]], mask_value=-1)', or 'nothing applied'."""
    if not applied:
        return "nothing applied"
    return ", ".join(
        f"{entry['name']}({', '.join(f'{k}={_short(v)}' for k, v in entry['params'].items())})" for entry in applied
    )


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"[{describe(value)}]"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _channels_first(audio: np.ndarray) -> np.ndarray:
    return audio[np.newaxis] if audio.ndim == 1 else audio


def _waveform(axis: Any, audio: np.ndarray, sample_rate: int) -> None:
    channels = _channels_first(audio)
    seconds = np.arange(channels.shape[-1]) / sample_rate
    for index, channel in enumerate(channels):
        axis.plot(seconds, channel, linewidth=0.5, alpha=0.8, label=f"channel {index + 1}")
    axis.set_xlim(0, seconds[-1] if len(seconds) else 1)
    axis.set_ylim(-1.05, 1.05)
    axis.set_xlabel("seconds", fontsize=8)
    axis.set_title("waveform", fontsize=8)
    if len(channels) > 1:
        axis.legend(fontsize=7, loc="upper right")


def _log_mel(axis: Any, audio: np.ndarray, sample_rate: int) -> None:
    import librosa
    import librosa.display

    first = _channels_first(audio)[0]
    n_fft = min(2048, 1 << max(int(np.log2(max(len(first), 2))), 1))
    mel = librosa.feature.melspectrogram(y=first, sr=sample_rate, n_fft=n_fft, hop_length=n_fft // 4)
    librosa.display.specshow(
        librosa.power_to_db(mel, ref=np.max),
        sr=sample_rate,
        hop_length=n_fft // 4,
        x_axis="time",
        y_axis="mel",
        ax=axis,
    )
    axis.set_title("log-mel spectrogram (first channel)", fontsize=8)


def _feature(axis: Any, feature: np.ndarray | None, config: Config, clean: bool) -> None:
    if feature is None:
        axis.set_axis_off()
        return
    settings = config.spectrogram
    first = feature[0] if settings is None or settings.layout == "channels_first" else feature[..., 0].T
    image = axis.imshow(first, origin="lower", aspect="auto", interpolation="nearest", cmap="magma")
    axis.figure.colorbar(image, ax=axis, fraction=0.04)
    axis.set_xlabel("frame", fontsize=8)
    axis.set_ylabel("mel band" if settings is not None and settings.n_mels else "bin", fontsize=8)
    axis.set_title(f"{'clean feature' if clean else 'feature as written'} {tuple(feature.shape)}", fontsize=8)


def default_output_dir(audio_file: Path) -> Path:
    """preview/<stem>/ in the current folder."""
    return Path(os.curdir) / "preview" / audio_file.stem
