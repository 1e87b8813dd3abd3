"""Codec and Telephone: the audio through a codec, or a narrowband phone channel, encoded and
decoded in memory by libsndfile (through soundfile; no external program).

Each channel is coded on its own, at the codec's rate (8 kHz for the telephone codecs), and
brought back to the item's rate, its length kept. libsndfile already gives each codec's audio
back aligned (its decoders skip MP3's encoder delay, Opus' pre-skip, Vorbis' priming); the lag
that remains for a codec, rate and bitrate is measured once per process on a probe burst and
removed, so a segment stays where it was. The same audio and parameters give the same bytes:
every codec here is deterministic.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from audioaug_cli.transforms import compat

compat.load_audiomentations()  # the base class's package, without importing every transform
from audiomentations.core.transforms_interface import BaseWaveformTransform  # noqa: E402

CodecName = Literal[
    "gsm", "ulaw", "alaw", "ima_adpcm", "ms_adpcm", "g721", "nms_adpcm", "mp3", "vorbis", "opus"
]  # fmt: skip
TelephoneCodec = Literal["gsm", "ulaw", "alaw", "ima_adpcm", "ms_adpcm", "g721", "nms_adpcm"]
PHONE_RATE = 8000
_MP3_KBPS = {  # the bitrates an MPEG layer III stream has, by the version its sample rate makes
    32000: (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    16000: (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    8000: (8, 16, 24, 32, 40, 48, 56, 64),
}
_MP3_RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
_OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
OPUS_KBPS = (6, 256)  # libsndfile maps its compression level 0..1 onto this range, linearly


@dataclass(frozen=True)
class Spec:
    """One codec: libsndfile's container and subtype, and the bitrates it can have."""

    format: str
    subtype: str
    fixed_kbps: float | None = None  # the codec's one bitrate (at 8 kHz), where it has one
    kbps: tuple[int, ...] = ()  # the bitrates to choose from (nms_adpcm), when a list
    span: tuple[int, int] | None = None  # a continuous range (opus)


SPECS: dict[str, Spec] = {
    "gsm": Spec("WAV", "GSM610", 13.0),
    "ulaw": Spec("WAV", "ULAW", 64.0),
    "alaw": Spec("WAV", "ALAW", 64.0),
    "ima_adpcm": Spec("WAV", "IMA_ADPCM", 32.0),
    "ms_adpcm": Spec("WAV", "MS_ADPCM", 32.0),
    "g721": Spec("WAV", "G721_32", 32.0),
    "nms_adpcm": Spec("WAV", "NMS_ADPCM_{kbps}", kbps=(16, 24, 32)),
    "mp3": Spec("MP3", "MPEG_LAYER_III", kbps=_MP3_KBPS[32000]),
    "vorbis": Spec("OGG", "VORBIS"),
    "opus": Spec("OGG", "OPUS", span=OPUS_KBPS),
}


def codec_rate(codec: str, sample_rate: int) -> int:
    """The rate a codec runs at for audio of ``sample_rate``."""
    if SPECS[codec].format == "WAV":
        return PHONE_RATE
    if codec == "mp3":
        return (
            sample_rate
            if sample_rate in _MP3_RATES
            else min(48000, max(r for r in _MP3_RATES if r <= max(sample_rate, 8000)))
        )
    if codec == "opus":
        return next((r for r in _OPUS_RATES if r >= sample_rate), 48000)
    return sample_rate


def bitrates(codec: str, rate: int) -> tuple[int, ...] | tuple[int, int] | None:
    """The bitrates a codec can be drawn at: a list, a (low, high) range (opus), or None (fixed)."""
    if codec == "mp3":
        return mp3_bitrates(rate)
    spec = SPECS[codec]
    return spec.span or spec.kbps or None


@functools.lru_cache(maxsize=16)
def mp3_bitrates(rate: int) -> tuple[int, ...]:
    """The MPEG layer III bitrates at ``rate`` whose stream libsndfile decodes to the frames it was
    given. Below them (e.g. 32 kbit/s at 16 kHz, 48 at 44.1 kHz) LAME changes the stream's layout
    and the decoder no longer trims the encoder's delay: the audio comes back late and longer.
    Found once per process by encoding a short probe at each bitrate."""
    import soundfile

    table = _MP3_KBPS[32000 if rate >= 32000 else 16000 if rate >= 16000 else 8000]
    probe = (0.2 * np.sin(2 * np.pi * 300 * np.arange(rate // 4) / rate)).astype(np.float32)
    found = []
    for kbps in table:
        buffer = io.BytesIO()
        with soundfile.SoundFile(buffer, "w", rate, 1, **_mp3_options(rate, kbps)) as handle:
            handle.write(probe)
        buffer.seek(0)
        if soundfile.info(buffer).frames == probe.shape[0]:
            found.append(kbps)
    return tuple(found) or table[-1:]


def _mp3_options(rate: int, kbps: float) -> dict[str, Any]:
    """libsndfile's CBR bitrate is top - level * (top - bottom), truncated: the level for ``kbps``."""
    top, bottom = (320, 32) if rate >= 32000 else (160, 8) if rate >= 16000 else (64, 8)
    level = min(1.0, max(0.0, (top - kbps - 0.5) / (top - bottom)))
    return {"format": "MP3", "subtype": "MPEG_LAYER_III", "bitrate_mode": "CONSTANT", "compression_level": level}


def check_bitrate(codecs: Sequence[str], bitrate_kbps: Sequence[float] | None) -> tuple[float, float] | None:
    """``[low, high]``, which every codec with a bitrate can meet; ValueError naming one that cannot."""
    if bitrate_kbps is None:
        return None
    if len(bitrate_kbps) != 2 or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in bitrate_kbps):
        raise ValueError(f"bitrate_kbps must be [low, high] in kbit/s, found {bitrate_kbps!r}")
    low, high = float(bitrate_kbps[0]), float(bitrate_kbps[1])
    if low > high:
        raise ValueError(f"bitrate_kbps: low ({low:g}) is greater than high ({high:g})")
    for codec in codecs:
        if codec == "mp3":
            choices: Sequence[int] = sorted({k for table in _MP3_KBPS.values() for k in table})
        else:
            choices = SPECS[codec].span or SPECS[codec].kbps
        if choices and (high < min(choices) or low > max(choices)):
            raise ValueError(
                f"bitrate_kbps [{low:g}, {high:g}] leaves no bitrate for {codec}, which takes "
                f"{min(choices)} to {max(choices)} kbit/s"
            )
    return low, high


def draw_bitrate(codec: str, rate: int, span: tuple[float, float] | None, rng: Any) -> float | None:
    """A bitrate for ``codec`` at ``rate`` within ``span`` (all of the codec's when None)."""
    found = bitrates(codec, rate)
    if found is None:
        return SPECS[codec].fixed_kbps
    low, high = span if span is not None else (float(min(found)), float(max(found)))
    if codec == "opus":
        return float(rng.randint(max(OPUS_KBPS[0], math.ceil(low)), min(OPUS_KBPS[1], math.floor(high))))
    within = [k for k in found if low <= k <= high] or [min(found, key=lambda k: min(abs(k - low), abs(k - high)))]
    return float(rng.choice(within))


def _write_options(codec: str, rate: int, kbps: float | None, level: float | None) -> dict[str, Any]:
    spec = SPECS[codec]
    options: dict[str, Any] = {"format": spec.format, "subtype": spec.subtype}
    if codec == "nms_adpcm":
        options["subtype"] = spec.subtype.format(kbps=int(kbps or 32))
    elif codec == "mp3" and kbps is not None:
        options = _mp3_options(rate, kbps)
    elif codec == "opus" and kbps is not None:
        options["compression_level"] = min(1.0, max(0.0, (OPUS_KBPS[1] - kbps) / (OPUS_KBPS[1] - OPUS_KBPS[0])))
    elif codec == "vorbis" and level is not None:
        options["compression_level"] = level
    return options


def encoded(samples: np.ndarray, rate: int, codec: str, kbps: float | None, level: float | None = None) -> bytes:
    """Mono audio at the codec's rate as the codec's stream (a file's bytes), made in memory."""
    import soundfile

    buffer = io.BytesIO()
    with soundfile.SoundFile(buffer, "w", rate, 1, **_write_options(codec, rate, kbps, level)) as handle:
        handle.write(np.ascontiguousarray(samples, dtype=np.float32))
    return buffer.getvalue()


def coded(samples: np.ndarray, rate: int, codec: str, kbps: float | None, level: float | None = None) -> np.ndarray:
    """Mono audio at the codec's rate, encoded and decoded in memory; its length and timing kept."""
    import soundfile

    out, _rate = soundfile.read(io.BytesIO(encoded(samples, rate, codec, kbps, level)), dtype="float32")
    lag = codec_lag(codec, rate)
    out = out[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag, np.float32), out])
    frames = samples.shape[-1]
    if out.shape[0] < frames:
        out = np.pad(out, (0, frames - out.shape[0]))
    return np.asarray(out[:frames], dtype=np.float32)


@functools.lru_cache(maxsize=64)
def codec_lag(codec: str, rate: int) -> int:
    """The frames by which the codec's decoded audio lags its input (libsndfile 1.2: 0 for every
    codec here), measured once per process on a windowed noise burst by cross-correlation, at the
    codec's best quality (a codec's delay does not depend on its bitrate; at 8 kbit/s too little
    of the burst is left to find it)."""
    import soundfile

    found = bitrates(codec, rate)
    kbps = float(max(found)) if found is not None else SPECS[codec].fixed_kbps
    level = 0.0 if codec == "vorbis" else None
    rng = np.random.default_rng(12345)
    burst = np.zeros(rate, np.float32)
    width = rate // 20
    burst[rate // 4 : rate // 4 + width] = 0.5 * rng.standard_normal(width) * np.hanning(width)
    out, _rate = soundfile.read(io.BytesIO(encoded(burst, rate, codec, kbps, level)), dtype="float32")
    reach = rate // 50  # 20 ms either way
    start = rate // 4 - reach
    window = out[start : start + width + 2 * reach]
    if window.shape[0] < width + 2 * reach:
        return 0
    scores = np.correlate(window, burst[rate // 4 : rate // 4 + width], "valid")
    return int(np.argmax(scores)) - reach


def resampled(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return samples
    import soxr

    return np.asarray(soxr.resample(samples, rate, target, quality="HQ"), dtype=np.float32)


def through_codec(
    samples: np.ndarray, sample_rate: int, codec: str, rate: int, kbps: float | None, level: float | None = None
) -> np.ndarray:
    """Channels-first (or mono) audio through a codec at ``rate``, back at ``sample_rate``, its length kept."""
    channels = samples if samples.ndim == 2 else samples[np.newaxis]
    out = []
    for channel in channels:
        low = resampled(np.asarray(channel, np.float32), sample_rate, rate)
        back = resampled(coded(low, rate, codec, kbps, level), rate, sample_rate)
        frames = channel.shape[-1]
        back = np.pad(back, (0, max(0, frames - back.shape[0])))[:frames]
        out.append(back)
    found = np.stack(out)
    return np.ascontiguousarray(found if samples.ndim == 2 else found[0], dtype=np.float32)


class Codec(BaseWaveformTransform):  # type: ignore[misc]
    """The audio through a codec, encoded and decoded in memory by libsndfile: one codec drawn from
    ``codecs``, and a bitrate where it has one. The audio is resampled to the codec's rate (8 kHz
    for the telephone codecs), coded, resampled back and aligned: its length and timing are kept.

    :param codecs: The codecs to draw from: gsm, ulaw, alaw, ima_adpcm, ms_adpcm, g721, nms_adpcm
        (16, 24 or 32 kbit/s), mp3 (CBR), vorbis, opus.
    :param bitrate_kbps: [low, high]: the bitrates drawn for mp3, opus and nms_adpcm (null: any the
        codec has). Vorbis draws a compression level from 0 to 1 instead; the others have one bitrate.
    :param p: The probability of applying this transform.
    """

    supports_multichannel = True

    def __init__(
        self,
        codecs: Sequence[CodecName] = ("gsm", "ulaw", "mp3", "opus"),
        bitrate_kbps: Sequence[float] | None = None,
        p: float = 0.5,
    ):
        super().__init__(p)
        self.codecs = _codec_list(codecs, tuple(SPECS))
        self.bitrate_kbps = check_bitrate(self.codecs, bitrate_kbps)

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if not self.parameters["should_apply"]:
            return
        rng = compat.current_random()
        codec = rng.choice(self.codecs)
        rate = codec_rate(codec, sample_rate)
        self.parameters.update(codec=codec, bitrate_kbps=draw_bitrate(codec, rate, self.bitrate_kbps, rng))
        self.parameters["codec_rate"] = rate
        if codec == "vorbis":
            self.parameters["compression_level"] = round(rng.uniform(0.0, 1.0), 4)

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        params = self.parameters
        return through_codec(
            samples,
            sample_rate,
            params["codec"],
            params["codec_rate"],
            params["bitrate_kbps"],
            params.get("compression_level"),
        )


class Telephone(BaseWaveformTransform):  # type: ignore[misc]
    """A narrowband phone channel: band-passed (edges drawn within ``band_hz``), at 8 kHz, through a
    telephone codec, with lost frames of ``frame_ms`` silenced (each lost with the drawn loss
    rate; their indices recorded), back at the input's rate. Length and timing are kept.

    :param band_hz: [low, high]: the outermost edges; the low edge is drawn from low to 1.5 x low,
        the high edge from high / 1.25 to high.
    :param codecs: The telephone codecs to draw from.
    :param packet_loss: [low, high]: the share of frames lost, drawn per item.
    :param frame_ms: The length of a frame (a packet), in milliseconds.
    :param p: The probability of applying this transform.
    """

    supports_multichannel = True

    def __init__(
        self,
        band_hz: Sequence[float] = (300.0, 3400.0),
        codecs: Sequence[TelephoneCodec] = ("ulaw", "alaw", "gsm", "nms_adpcm"),
        packet_loss: Sequence[float] = (0.0, 0.1),
        frame_ms: float = 20.0,
        p: float = 0.5,
    ):
        super().__init__(p)
        self.codecs = _codec_list(codecs, tuple(c for c in SPECS if SPECS[c].format == "WAV"))
        band = [float(v) for v in band_hz]
        if len(band) != 2 or not 0 < band[0] < band[1] <= PHONE_RATE / 2:
            raise ValueError(f"band_hz must be [low, high] with 0 < low < high <= 4000 Hz, found {list(band_hz)}")
        loss = [float(v) for v in packet_loss]
        if len(loss) != 2 or not 0 <= loss[0] <= loss[1] <= 1:
            raise ValueError(f"packet_loss must be [low, high] with 0 <= low <= high <= 1, found {list(packet_loss)}")
        if not 1 <= frame_ms <= 1000:
            raise ValueError(f"frame_ms must be from 1 to 1000 ms, found {frame_ms}")
        self.band, self.loss, self.frame_ms = band, loss, float(frame_ms)

    def randomize_parameters(self, samples: np.ndarray, sample_rate: int) -> None:
        super().randomize_parameters(samples, sample_rate)
        if not self.parameters["should_apply"]:
            return
        rng = compat.current_random()
        low, high = self.band
        edges = [round(rng.uniform(low, min(1.5 * low, high)), 2), round(rng.uniform(max(high / 1.25, low), high), 2)]
        codec = rng.choice(self.codecs)
        loss = rng.uniform(*self.loss)
        frame = max(1, round(self.frame_ms * sample_rate / 1000))
        count = -(-samples.shape[-1] // frame)
        lost = [i for i in range(count) if rng.random() < loss]
        self.parameters.update(
            band_hz=sorted(edges),
            codec=codec,
            bitrate_kbps=draw_bitrate(codec, PHONE_RATE, None, rng),
            packet_loss=loss,
            frame_ms=self.frame_ms,
            lost_frames=lost,
        )

    def apply(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        params = self.parameters
        channels = samples if samples.ndim == 2 else samples[np.newaxis]
        out = []
        for channel in channels:
            low = resampled(np.asarray(channel, np.float32), sample_rate, PHONE_RATE)
            low = band_passed(low, PHONE_RATE, *params["band_hz"])  # the handset and the line
            low = band_passed(
                coded(low, PHONE_RATE, params["codec"], params["bitrate_kbps"]), PHONE_RATE, *params["band_hz"]
            )
            back = resampled(low, PHONE_RATE, sample_rate)
            frames = channel.shape[-1]
            out.append(np.pad(back, (0, max(0, frames - back.shape[0])))[:frames])
        found = np.stack(out)
        frame = max(1, round(params["frame_ms"] * sample_rate / 1000))
        for index in params["lost_frames"]:
            found[:, index * frame : (index + 1) * frame] = 0.0
        return np.ascontiguousarray(found if samples.ndim == 2 else found[0], dtype=np.float32)


def band_passed(samples: np.ndarray, rate: int, low: float, high: float) -> np.ndarray:
    """Zero-phase band-pass by FFT (time kept exactly): unity within [low, high], nothing beyond a
    raised-cosine skirt 10 % wide outside each edge."""
    size = samples.shape[-1]
    frequencies = np.fft.rfftfreq(size, 1 / rate)
    gain = np.ones_like(frequencies)
    below, above = frequencies < low, frequencies > high
    gain[below] = _skirt((low - frequencies[below]) / (0.1 * low))
    gain[above] = _skirt((frequencies[above] - high) / (0.1 * high))
    return np.asarray(np.fft.irfft(np.fft.rfft(samples) * gain, size), dtype=np.float32)


def _skirt(distance: np.ndarray) -> np.ndarray:
    """1 at the edge, 0 from one skirt-width away, a raised cosine between."""
    return np.where(distance >= 1, 0.0, 0.5 * (1 + np.cos(np.pi * np.clip(distance, 0, 1))))


def _codec_list(codecs: Sequence[str], allowed: tuple[str, ...]) -> list[str]:
    from audioaug_cli.errors import suggest

    found = list(codecs) if not isinstance(codecs, str) else [codecs]
    if not found:
        raise ValueError("codecs must name at least one codec")
    for codec in found:
        if codec not in allowed:
            raise ValueError(f"unknown codec {codec!r}{suggest(str(codec), allowed)} (valid: {', '.join(allowed)})")
    return found
