"""Codec and Telephone, checked on the audio they give back: length, rate and channels kept, the
sound changed yet still the same sound, band limits, timing (a burst's onset within 1 ms), the
bitrate recorded being the stream's, lost frames silent where recorded, and replay exact."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli import Augmenter
from audioaug_cli.config.load import parse_config
from audioaug_cli.transforms.codecs import PHONE_RATE, SPECS, encoded
from tests.helpers import cli

RATE = 16000
BURST = 24000  # where the burst starts, in frames of RATE

# The least correlation each codec keeps with the tonal first second, at its worst bitrate, as
# libsndfile 1.2 gives it here (measured: gsm 0.87, ulaw/alaw 1.00, ima 0.99, ms 0.98, g721 1.00,
# nms_adpcm 16 kbit/s 0.94, mp3 40 kbit/s 1.00, vorbis 1.00, opus 6 kbit/s 0.82), with a margin.
LEAST_CORRELATION = {
    "gsm": 0.8,
    "ulaw": 0.99,
    "alaw": 0.99,
    "ima_adpcm": 0.97,
    "ms_adpcm": 0.95,
    "g721": 0.98,
    "nms_adpcm": 0.9,
    "mp3": 0.97,
    "vorbis": 0.97,
    "opus": 0.75,
}


def signal(channels: int = 2) -> np.ndarray:
    """A voiced, tonal second, a quiet half second, a noise burst, silence: frames first."""
    t = np.arange(2 * RATE) / RATE
    voiced = sum(0.05 * np.sin(2 * np.pi * f * t + k) for k, f in enumerate([180, 360, 540, 720, 1100, 1600, 2300]))
    x = np.zeros(2 * RATE)
    x[:RATE] = (voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)))[:RATE]
    rng = np.random.default_rng(0)
    x[BURST : BURST + 800] = 0.2 * rng.standard_normal(800) * np.hanning(800)
    return np.stack([x * (1 - 0.3 * c) for c in range(channels)], axis=1).astype(np.float32)


def augmenter(entry: str) -> Augmenter:
    return Augmenter(parse_config(f"version: 1\npipeline:\n  - {entry}\n"))


def lag_of_burst(out: np.ndarray, source: np.ndarray) -> int:
    """Frames by which the burst is late in ``out`` (cross-correlation within ±5 ms)."""
    reach = 80
    window = out[BURST - reach : BURST + 800 + reach]
    return int(np.argmax(np.correlate(window, source[BURST : BURST + 800], "valid"))) - reach


@pytest.mark.parametrize("codec", list(SPECS))
def test_each_codec_keeps_the_audio_s_shape_and_timing_and_records_what_made_it(codec: str) -> None:
    source = signal()
    out, applied = augmenter(f"Codec: {{codecs: [{codec}], p: 1.0}}")(source, RATE, seed=5)
    assert out.shape == source.shape and out.dtype == np.float32
    (entry,) = applied
    params = entry["params"]
    assert entry["name"] == "Codec" and params["codec"] == codec
    assert params["codec_rate"] == (PHONE_RATE if SPECS[codec].format == "WAV" else 16000)
    for channel in range(2):
        x, y = source[:, channel], out[:, channel]
        assert np.max(np.abs(y - x)) > 1e-3  # changed
        assert np.corrcoef(x[:RATE], y[:RATE])[0, 1] > LEAST_CORRELATION[codec]  # yet the same sound
        assert abs(lag_of_burst(y, x)) <= RATE // 1000  # the burst within 1 ms of where it was
    if params["codec_rate"] == PHONE_RATE:  # nothing left above 4 kHz
        spectrum = np.abs(np.fft.rfft(out[:, 0])) ** 2
        above = spectrum[np.fft.rfftfreq(len(out), 1 / RATE) > 4100].sum()
        assert 10 * np.log10(above / spectrum.sum()) < -60


@pytest.mark.parametrize(("codec", "kbps"), [("mp3", 48), ("mp3", 128), ("opus", 12), ("opus", 96), ("nms_adpcm", 16)])
def test_the_recorded_bitrate_is_the_stream_s(codec: str, kbps: int) -> None:
    """The bytes of the stream the recorded parameters make carry that many kbit/s (Opus is VBR:
    within a fifth; the others within 10 %: a container's headers and MP3's padded last frames)."""
    out, applied = augmenter(f"Codec: {{codecs: [{codec}], bitrate_kbps: [{kbps}, {kbps}], p: 1.0}}")(
        signal(1)[:, 0], RATE, seed=1
    )
    params = applied[0]["params"]
    assert params["bitrate_kbps"] == kbps
    rate = params["codec_rate"]
    mono = signal(1)[:, 0]
    if rate != RATE:
        import soxr

        mono = soxr.resample(mono, RATE, rate)
    stream = encoded(mono, rate, codec, params["bitrate_kbps"])
    measured = len(stream) * 8 / (len(mono) / rate) / 1000
    assert measured == pytest.approx(kbps, rel=0.2 if codec == "opus" else 0.1)


def test_telephone_keeps_to_its_band() -> None:
    noise = (0.1 * np.random.default_rng(3).standard_normal(2 * RATE)).astype(np.float32)
    out, applied = augmenter("Telephone: {packet_loss: [0, 0], p: 1.0}")(noise, RATE, seed=9)
    params = applied[0]["params"]
    assert out.shape == noise.shape and params["lost_frames"] == []
    low, high = params["band_hz"]
    assert 300 <= low <= 450 and 3400 / 1.25 <= high <= 3400
    spectrum = np.abs(np.fft.rfft(out)) ** 2
    freqs = np.fft.rfftfreq(len(out), 1 / RATE)
    inside = spectrum[(freqs > low) & (freqs < high)].mean()
    for outside in (freqs < 0.85 * low, freqs > 1.15 * high):
        assert 10 * np.log10(spectrum[outside].mean() / inside) < -30


def test_telephone_silences_the_frames_it_records_as_lost() -> None:
    source = signal(2)
    out, applied = augmenter("Telephone: {packet_loss: [0.2, 0.3], frame_ms: 20, p: 1.0}")(source, RATE, seed=9)
    params = applied[0]["params"]
    assert out.shape == source.shape and params["codec"] in ("ulaw", "alaw", "gsm", "nms_adpcm")
    frame = RATE * 20 // 1000
    lost = params["lost_frames"]
    assert 0 < len(lost) < 100 and params["frame_ms"] == 20
    for index in range(100):
        part = out[index * frame : (index + 1) * frame]
        if index in lost:
            assert not np.any(part)
        elif index < 50:  # the voiced second: sound in every frame that was not lost
            assert np.sqrt(np.mean(part**2)) > 0.01


def test_a_run_with_codecs_replays_exactly_and_keeps_segments(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    sf.write(inputs / "a.wav", signal(1)[:, 0], RATE, subtype="PCM_16")
    sf.write(inputs / "b.flac", signal(2), RATE, subtype="PCM_16")
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\nseed: 4\ncopies: 12\npipeline:\n"
        "  - OneOf:\n      p: 1.0\n      transforms:\n"
        "        - Codec: {p: 1.0, codecs: [gsm, ulaw, alaw, ima_adpcm, ms_adpcm, g721, nms_adpcm, "
        "mp3, vorbis, opus]}\n"
        "        - Telephone: {p: 1.0}\n"
    )
    table = tmp_path / "segments.csv"
    table.write_text("file_name,start,end\na.wav,1.5,1.55\nb.flac,1.5,1.55\n")
    done = cli("run", config, inputs, tmp_path / "out", "--segments", table, "-j", "1")
    assert done.exit_code == 0, done.output
    with (tmp_path / "out" / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    made: dict[str, Any] = {}
    for row in rows:
        (entry,) = json.loads(row["transforms"])
        made[entry["params"]["codec"]] = entry["name"]
        assert int(row["frames"]) == 2 * RATE
    assert len(made) >= 8  # most codecs drawn in 24 items
    with (tmp_path / "out" / "segments.csv").open(newline="") as handle:
        spans = {(r["start"], r["end"]) for r in csv.DictReader(handle)}
    assert spans == {("1.500000", "1.550000")}  # time kept: every output's segment where it was
    replayed = cli("replay", tmp_path / "out")
    assert replayed.exit_code == 0 and "replayed 48: 48 match" in replayed.output  # 24 files, 24 segment rows


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("Codec: {codecs: [gsn]}", "Codec.codecs: 'gsn' is not one of the choices; did you mean gsm"),
        ("Codec: {codecs: [mp3], bitrate_kbps: [400, 500]}", "leaves no bitrate for mp3"),
        ("Codec: {codecs: [opus], bitrate_kbps: [64, 32]}", "low (64) is greater than high (32)"),
        ("Telephone: {packet_loss: [0.1, 2]}", "packet_loss must be [low, high]"),
        ("Telephone: {band_hz: [300, 5000]}", "band_hz must be [low, high]"),
        ("Telephone: {codecs: [mp3]}", "Telephone.codecs: 'mp3' is not one of the choices (valid: gsm, ulaw"),
    ],
)
def test_codec_mistakes_are_one_located_line(tmp_path: Path, entry: str, said: str) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"version: 1\npipeline:\n  - {entry}\n")
    done = cli("validate", config)
    assert done.exit_code == 2
    assert "line 3: pipeline[0]" in done.output and said in done.output, done.output


def test_transforms_documents_the_codecs() -> None:
    shown = cli("transforms", "Codec")
    assert shown.exit_code == 0 and "nms_adpcm" in shown.output and "bitrate_kbps" in shown.output
    assert sf.available_subtypes("WAV")["GSM610"]  # the libsndfile these tests ran with has the codecs
