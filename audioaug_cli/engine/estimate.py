"""How much a run will write, from the inputs' headers alone: what `--dry-run` reports.

Durations are the inputs' (after the config's ``audio:`` conversion); a pipeline that changes
lengths (TimeStretch, Padding, ...) makes them approximate. Sizes of uncompressed WAV outputs are
exact but for the header; FLAC and Ogg compress, so for them the figure is an upper bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audioaug_cli.config.model import Config

WAV_HEADER = 44
NPY_HEADER = 128
_BYTES_PER_SAMPLE = {
    "PCM_S8": 1,
    "PCM_U8": 1,
    "PCM_16": 2,
    "PCM_24": 3,
    "PCM_32": 4,
    "FLOAT": 4,
    "DOUBLE": 8,
    "ULAW": 1,
    "ALAW": 1,
    "IMA_ADPCM": 0.5,
    "MS_ADPCM": 0.5,
    "GSM610": 0.21,
    "G721_32": 0.5,
    "G723_24": 0.375,
    "G723_40": 0.625,
    "NMS_ADPCM_16": 0.25,
    "NMS_ADPCM_24": 0.375,
    "NMS_ADPCM_32": 0.5,
}


@dataclass(frozen=True)
class ItemSize:
    """One item of an input: seconds of audio, and the bytes of its files."""

    seconds: float = 0.0
    bytes: int = 0


@dataclass
class PlannedSize:
    seconds: float = 0.0
    bytes: int = 0
    upper_bound: bool = False  # compressed outputs: the bytes are at most this

    def add(self, item: ItemSize, copies: int) -> None:
        self.seconds += item.seconds * copies
        self.bytes += item.bytes * copies

    def describe(self) -> str:
        """'1.5 audio-minutes, about 12.3 MB'."""
        return f"{_duration(self.seconds)} of audio, {'at most' if self.upper_bound else 'about'} {_bytes(self.bytes)}"


def planned_size(config: Config, path: Any) -> ItemSize:
    """What one augmented copy of the input at ``path`` (or in a file object) adds up to
    (nothing if it cannot be read)."""
    import soundfile

    try:
        info = soundfile.info(path)
    except Exception:  # the item will fail, and say why
        return ItemSize()
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    rate = config.sample_rate or info.samplerate
    channels = 1 if config.mono else info.channels
    samples = seconds * rate * channels
    size = 0
    if config.spectrogram is None or config.spectrogram.write_audio:
        per_sample = _BYTES_PER_SAMPLE.get(config.subtype, 2)
        files = len(config.mix.stem_folders()) if config.mix is not None else 1  # each stem a file as long
        size += files * (WAV_HEADER + int(samples * per_sample))
    if config.spectrogram is not None:
        settings = config.spectrogram
        bins = settings.n_mels or settings.n_fft // 2 + 1
        frames = int(seconds * rate) // settings.hop + 1
        size += NPY_HEADER + 4 * channels * bins * frames
    return ItemSize(seconds, size)


def is_upper_bound(config: Config) -> bool:
    return config.format != "wav" and (config.spectrogram is None or config.spectrogram.write_audio)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"
