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
from audioaug_cli.errors import ItemError, UsageError
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
    input_dir: Path | None = None,
) -> Preview:
    """Write the config's variants of ``audio_file`` into ``output_dir`` through the run's own
    item function (same seeds, same files, same manifest rows), then ``<stem>.png`` beside them.

    With ``excerpt``, the variants are of that part of the file alone (the seeds are still the
    file's): a quick look at a long recording, not what `run` writes for the whole of it.
    ``segments`` (seconds in the file) are drawn as spans on each waveform, where each variant
    moved them. ``input_dir``: the INPUT_DIR `run` would be given, which the file's seeds and output
    names depend on (default: the file's own folder, as if it lay at the top of INPUT_DIR)."""
    if not audio_file.is_file():
        raise UsageError(f"AUDIO_FILE {escaped(str(audio_file))} is not a regular file")
    try:
        import matplotlib
    except ImportError:
        raise UsageError(f"preview draws with matplotlib, which is not installed: {PREVIEW_HINT}") from None
    matplotlib.use("Agg")  # no screen needed, and nothing else of the caller's matplotlib changes
    stat = audio_file.stat()
    rel = source_name(audio_file, input_dir)
    source = Source(
        escaped(rel),
        str(audio_file),
        f"{stat.st_size}:{stat.st_mtime_ns}",
        None if is_utf8(rel) else NOT_UTF8,
        stat.st_size,
        excerpt,
    )
    if segments is not None:
        from audioaug_cli.transforms.timing import check_time_mapping

        check_time_mapping(config)
    if segments is not None and excerpt is not None:  # times in the excerpt
        last = excerpt.start + excerpt.duration if excerpt.duration is not None else float("inf")
        segments = [
            (max(s, excerpt.start) - excerpt.start, min(e, last) - excerpt.start)
            for s, e in segments
            if e > excerpt.start and s < last
        ]
    times = tuple(segments) if segments is not None else None
    folder = LocalStore(Path(output_dir).absolute())
    task = Task(source, config.copy_numbers(), times)
    inputs = folder
    if config.mix is not None and config.mix.speakers is not None:  # others from the file's own folder
        task, inputs = _with_partners(config, task, audio_file)
    outcomes = augment_source(config, task, inputs, folder)
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


def _with_partners(config: Config, task: Task, audio_file: Path) -> tuple[Task, LocalStore]:
    """A preview's interfering speakers: drawn from the other audio files beside it."""
    from dataclasses import replace

    from audioaug_cli.engine.mixing import PartnerPool
    from audioaug_cli.engine.tasks import item_seed
    from audioaug_cli.io.formats import AUDIO_EXTENSIONS

    folder = audio_file.parent.absolute()
    found = sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS and p.name != audio_file.name
    )
    pool = PartnerPool(config, ((name, None, None) for name in found))
    partners = tuple(
        pool.draw(audio_file.name, None, None, item_seed(config.seed, task.source.rel, c)) for c in task.copies
    )
    return replace(task, partners=partners), LocalStore(folder)


WAVEFORM_POINTS = 2000  # a waveform is drawn as the min and max of this many stretches of it
MEL_FRAMES = 2000  # a log-mel spectrogram is drawn with at most this many frames


def preview_figure(
    config: Config,
    audio_file: Path,
    output_dir: Path,
    outcomes: list[Outcome],
    excerpt: Excerpt | None = None,
    segments: tuple[tuple[float, float], ...] | None = None,
) -> Any:
    """The figure: one row for the original and one per variant; columns waveform, log-mel
    spectrogram, and with a spectrogram: section the feature as written. Each row's audio is read,
    drawn in a bounded number of points and let go before the next: a long recording costs what
    one copy of it costs. With an excerpt, times are the file's (from ``--start``)."""
    import matplotlib.pyplot as plt

    offset = excerpt.start if excerpt is not None else 0.0
    part = (
        ""
        if excerpt is None
        else f" (from {excerpt.start:g} s" + (f", {excerpt.duration:g} s)" if excerpt.duration is not None else ")")
    )
    rows = [row for row in (o.row for o in outcomes) if row is not None]
    columns = 3 if config.spectrogram is not None else 2
    lines = 1 + sum(1 + len(row.stems or ()) for row in rows)
    figure = plt.figure(figsize=(5 * columns, 3.1 * lines), layout="constrained")
    row_figures = figure.subfigures(lines, 1, squeeze=False)[:, 0]

    def draw(index: int, title: str, audio: np.ndarray, rate: int, feature: Any, spans: list[Any], clean: bool) -> None:
        row_figure = row_figures[index]
        row_figure.suptitle("\n".join(textwrap.wrap(title, 55 * columns)), x=0.01, ha="left", fontsize=9)
        line = row_figure.subplots(1, columns)
        _waveform(line[0], audio, rate, offset)
        for start, end in spans:  # --segments, where this row's transforms moved them
            line[0].axvspan(offset + start, offset + end, color="tab:orange", alpha=0.3, linewidth=0)
        _log_mel(line[1], audio, rate, offset)
        if columns == 3:
            _feature(line[2], feature, config, clean=clean)

    original, rate = read_audio(audio_file, excerpt)
    clean = None
    if config.spectrogram is not None:
        from audioaug_cli.io.audio import convert
        from audioaug_cli.transforms.spectrogram import clean_feature

        converted, converted_rate = convert(original, rate, config.sample_rate, config.mono)
        clean = clean_feature(converted, converted_rate, config.spectrogram)
        del converted
    draw(0, f"original: {audio_file.name}{part}", original, rate, clean, list(segments or ()), True)
    index = 0
    for row in rows:
        index += 1
        audio = read_audio(output_dir / row.file_name)[0] if row.file_name.endswith(config.extension) else original
        feature = np.load(output_dir / row.feature_file) if row.feature_file else None
        spans = [(start, end) for start, end, _index in row.segments or ()]
        draw(
            index,
            f"copy {row.copy}: {describe(json.loads(row.transforms))}",
            audio,
            row.sample_rate,
            feature,
            spans,
            False,
        )
        del audio, feature
        for stem, name in (row.stems or {}).items():  # with mix: each stem below its mixture
            index += 1
            draw(
                index,
                f"copy {row.copy}, {stem}: {name}",
                read_audio(output_dir / name)[0],
                row.sample_rate,
                None,
                [],
                False,
            )
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
        if "name" in value[0]:
            return f"[{describe(value)}]"
        return f"[{', '.join(_short(v) for v in value)}]"
    if isinstance(value, dict) and ("file" in value or "source" in value):  # what a mixture drew
        name = str(value.get("file") or value.get("source")).rsplit("/", 1)[-1]
        level = value.get("snr_db", value.get("sir_db"))
        return f"{name}@{level:.3g}dB" if isinstance(level, float) else name
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)


def _channels_first(audio: np.ndarray) -> np.ndarray:
    return audio[np.newaxis] if audio.ndim == 1 else audio


def _waveform(axis: Any, audio: np.ndarray, sample_rate: int, offset: float = 0.0) -> None:
    """Each channel in a band of its own (channel 1 on top), as the min and max of at most
    WAVEFORM_POINTS stretches: what a picture can show of it, in a bounded number of points."""
    channels = _channels_first(audio)
    count, frames = channels.shape
    duration = frames / sample_rate
    points = min(WAVEFORM_POINTS, max(frames, 1))
    edges = np.linspace(0, frames, points + 1).astype(int)
    times = offset + edges[:-1] / sample_rate
    for index, channel in enumerate(channels):
        level = 2.1 * (count - 1 - index)
        if frames:
            starts = edges[:-1][edges[:-1] < frames]
            low = np.minimum.reduceat(channel, starts)
            high = np.maximum.reduceat(channel, starts)
            axis.fill_between(times[: len(starts)], level + low, level + high, linewidth=0.5, step="post")
    axis.set_xlim(offset, offset + (duration or 1))
    axis.set_ylim(-1.05, 2.1 * (count - 1) + 1.05)
    if count > 1:
        axis.set_yticks([2.1 * (count - 1 - i) for i in range(count)], [f"ch {i + 1}" for i in range(count)])
    axis.set_xlabel("seconds", fontsize=8)
    axis.set_title("waveform", fontsize=8)


def _log_mel(axis: Any, audio: np.ndarray, sample_rate: int, offset: float = 0.0) -> None:
    import librosa
    import librosa.display

    first = _channels_first(audio)[0]
    n_fft = min(2048, 1 << max(int(np.log2(max(len(first), 2))), 1))
    hop = max(n_fft // 4, -(-len(first) // MEL_FRAMES))  # a long recording: fewer, farther frames
    mel = librosa.feature.melspectrogram(y=first, sr=sample_rate, n_fft=n_fft, hop_length=hop)
    librosa.display.specshow(
        librosa.power_to_db(mel, ref=np.max),
        sr=sample_rate,
        hop_length=hop,
        x_coords=offset + np.arange(mel.shape[-1]) * hop / sample_rate,
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


def source_name(audio_file: Path, input_dir: Path | None) -> str:
    """The file's name relative to INPUT_DIR ('/' separated), as `run`'s walk names it."""
    if input_dir is None:
        return audio_file.name
    folder, path = os.path.realpath(input_dir), os.path.realpath(audio_file.parent)
    if os.path.commonpath([folder, path]) != folder:
        raise UsageError(f"AUDIO_FILE {escaped(str(audio_file))} is not inside --input-dir {escaped(str(input_dir))}")
    return Path(os.path.relpath(path, folder), audio_file.name).as_posix().removeprefix("./")


def default_output_dir(audio_file: Path) -> Path:
    """preview/<stem>/ in the current folder."""
    return Path(os.curdir) / "preview" / audio_file.stem
