"""Segments mapped through the transforms, checked against the audio: tone bursts at known times,
found again in the written output where segments.csv says they are."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.transforms import registry, timing
from tests.helpers import ConfigWriter, cli

RATE = 16000
BURSTS = [(0.3, 0.5), (1.2, 1.45), (2.6, 2.8)]  # seconds, in a 3 s input


def write_bursts(path: Path, lead: float = 0.0) -> Path:
    """Silence with a 1 kHz burst in each of BURSTS (after ``lead`` more seconds of silence)."""
    audio = np.zeros(int((3.0 + lead) * RATE), dtype=np.float32)
    for start, end in BURSTS:
        a, b = int((start + lead) * RATE), int((end + lead) * RATE)
        audio[a:b] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(b - a) / RATE)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, RATE, subtype="FLOAT")
    (path.parent.parent / "segments.csv").write_text(
        "file_name,start,end,label\n"
        + "".join(f"{path.name},{s + lead},{e + lead},b{i}\n" for i, (s, e) in enumerate(BURSTS))
    )
    return path


def bursts_in(path: Path) -> list[tuple[float, float]]:
    """Where the sound is: runs of a 5 ms envelope above a tenth of the bursts' level."""
    audio, rate = sf.read(path, dtype="float32")
    window = int(0.005 * rate)
    envelope = np.convolve(np.abs(audio), np.ones(window) / window, mode="same") > 0.03
    edges = np.flatnonzero(np.diff(np.concatenate([[0], envelope.astype(np.int8), [0]])))
    return [(a / rate, b / rate) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 0.01 * rate]


def mapped(out: Path) -> dict[str, list[tuple[float, float]]]:
    found: dict[str, list[tuple[float, float]]] = {}
    with (out / "segments.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            found.setdefault(row["file_name"], []).append((float(row["start"]), float(row["end"])))
    return found


def run(tmp_path: Path, write_config: ConfigWriter, pipeline: str, lead: float = 0.0, copies: int = 3) -> Path:
    write_bursts(tmp_path / "in" / "b.wav", lead)
    config = write_config(f"version: 1\nseed: 4\ncopies: {copies}\noutput: {{subtype: FLOAT}}\npipeline:\n{pipeline}")
    out = tmp_path / "out"
    result = cli("run", config, tmp_path / "in", out, "-j", "1", "--segments", tmp_path / "segments.csv")
    assert result.exit_code == 0, result.output
    return out


def assert_where_the_sound_is(out: Path, tolerance: float = 0.006, exact: bool = True, within: bool = False) -> None:
    """Each segment is a burst heard (its edges within ``tolerance``), or with ``within`` lies inside
    one; with ``exact``, every burst heard is a segment too."""
    for name, segments in mapped(out).items():
        heard = bursts_in(out / name)
        if exact:
            assert len(heard) == len(segments), (name, heard, segments)
        for start, end in segments:
            edges = any(abs(start - a) <= tolerance and abs(end - b) <= tolerance for a, b in heard)
            inside = any(a - tolerance <= start and end <= b + tolerance for a, b in heard)
            audible = end - start > 0.01  # what bursts_in can hear
            assert (inside if within else edges) or not audible, (name, (start, end), heard)


PIPELINES = {
    "time-keeping": "  - Gain: {min_gain_db: -6, max_gain_db: 0, p: 1.0}\n"
    "  - HighPassFilter: {max_cutoff_freq: 300, p: 1.0}\n  - Padding: {p: 0}\n  - PolarityInversion: {p: 1.0}\n",
    "shift": "  - Shift: {min_shift: -0.6, max_shift: 0.6, shift_unit: seconds, rollover: false, p: 1.0}\n",
    "rolled shift": "  - Shift: {min_shift: 0.3, max_shift: 0.35, shift_unit: seconds, rollover: true, p: 1.0}\n",
    "shift by a fraction": "  - Shift: {min_shift: -0.5, max_shift: 0.5, rollover: true, p: 1.0}\n",
    "speed": "  - SpeedPerturb: {rates: [0.9, 1.1]}\n",
    "reverse": "  - Reverse: {p: 1.0}\n",
    "chain": "  - Shift: {min_shift: 0.1, max_shift: 0.2, shift_unit: seconds, p: 1.0}\n"
    "  - SpeedPerturb: {rates: [1.2]}\n  - Reverse: {p: 1.0}\n  - Gain: {p: 1.0}\n",
}


@pytest.mark.parametrize("name", PIPELINES)
def test_segments_are_where_the_bursts_are(name: str, tmp_path: Path, write_config: ConfigWriter) -> None:
    out = run(tmp_path, write_config, PIPELINES[name])
    assert_where_the_sound_is(out)
    if name == "rolled shift":  # 2.6-2.8 s shifted by 0.3-0.35 s wraps around the end: two segments
        assert all(len(segments) == 4 for segments in mapped(out).values())
    if name == "shift":  # moved partly out: clipped; wholly out: dropped (the silence has no burst either)
        assert all(all(0 <= s < e <= 3.0 for s, e in segments) for segments in mapped(out).values())


@pytest.mark.parametrize("keep_length", [False, True])
def test_time_stretch_scales_times_and_a_kept_length_cuts_them(
    keep_length: bool, tmp_path: Path, write_config: ConfigWriter
) -> None:
    rate = 0.8 if keep_length else 1.25  # slower with the length kept: the last burst falls out
    out = run(
        tmp_path,
        write_config,
        f"  - TimeStretch: {{min_rate: {rate}, max_rate: {rate}, "
        f"leave_length_unchanged: {str(keep_length).lower()}, p: 1.0}}\n",
        copies=1,
    )
    (segments,) = mapped(out).values()
    expected = [(round(s / rate, 6), round(e / rate, 6)) for s, e in BURSTS if s / rate < 3.0 or not keep_length]
    assert segments == expected
    assert_where_the_sound_is(out, tolerance=0.03)  # the phase vocoder smears an edge by part of its window


def test_trim_moves_times_back_by_what_it_cut(tmp_path: Path, write_config: ConfigWriter) -> None:
    out = run(tmp_path, write_config, "  - Trim: {top_db: 30, p: 1.0}\n", lead=0.4, copies=1)
    (segments,) = mapped(out).values()
    assert segments[0][0] < 0.1  # most of the leading 0.7 s of silence is gone (librosa trims by 512-frame hops)
    assert_where_the_sound_is(out)


def test_adjust_duration_crops_and_pads_as_the_samples_are(tmp_path: Path, write_config: ConfigWriter) -> None:
    out = run(tmp_path, write_config, "  - AdjustDuration: {duration_seconds: 2.0, p: 1.0}\n", copies=4)
    assert_where_the_sound_is(out, exact=False)  # a burst cut at an edge may be too short to hear
    padded = run(
        tmp_path / "p",
        write_config,
        "  - AdjustDuration: {duration_seconds: 3.5, padding_position: start, p: 1.0}\n",
        copies=1,
    )
    (segments,) = mapped(padded).values()
    assert segments == [(round(s + 0.5, 6), round(e + 0.5, 6)) for s, e in BURSTS]
    assert_where_the_sound_is(padded)


def test_repeat_part_moves_what_follows_the_repeats(tmp_path: Path, write_config: ConfigWriter) -> None:
    out = run(
        tmp_path,
        write_config,
        "  - RepeatPart: {min_repeats: 1, max_repeats: 2, crossfade_duration: 0.0, p: 1.0}\n",
        copies=4,
    )
    # a repeated part may hold a burst too, heard beside the segment it was copied from
    assert_where_the_sound_is(out, exact=False, within=True)
    assert any(len(segments) > len(BURSTS) for segments in mapped(out).values())  # one was split by repeats


def test_every_transform_has_a_stated_effect_on_time() -> None:
    assert set(registry.transform_names()) <= timing.KEEPS_TIME | timing.MOVES_TIME


def test_a_transform_whose_effect_on_time_is_not_known_is_refused(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_bursts(tmp_path / "in" / "b.wav")
    monkeypatch.setattr(timing, "KEEPS_TIME", timing.KEEPS_TIME - {"Gain"})
    config = write_config("version: 1\npipeline:\n  - OneOf: {transforms: [Reverse, Gain]}\n")
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "--segments", tmp_path / "segments.csv")
    assert result.exit_code == 2 and not (tmp_path / "out").exists()
    assert result.stderr == (
        "error: the config (with --segments): pipeline[0].OneOf.transforms[1].Gain: Gain's "
        "effect on time is not known to audioaug, so --segments cannot be mapped through it; "
        "leave it out, or run without --segments\n"
    )


KEEPING = [
    "Limiter",
    "Mp3Compression",
    "PitchShift",
    "AirAbsorption",
    "SevenBandParametricEQ",
    "BitCrush",
    "Aliasing",
    "TanhDistortion",
    "LoudnessNormalization",
    "LowPassFilter",
    "BandPassFilter",
    "PeakingFilter",
    "Normalize",
    "HighShelfFilter",
    "LowShelfFilter",
    "BandStopFilter",
    "Clip",
    "GainTransition",
    "ApplyImpulseResponse",
]


@pytest.mark.parametrize("name", KEEPING)
def test_a_transform_said_to_keep_time_keeps_the_sound_in_place(
    name: str, tmp_path: Path, write_config: ConfigWriter
) -> None:
    """The classification checked against the audio: each burst still starts where it did (a
    filter's or a reverb's ringing may lengthen its end a little, a codec must not delay it)."""
    assert name in timing.KEEPS_TIME
    extra = {
        "Aliasing": "min_sample_rate: 8000, max_sample_rate: 12000, ",
        "ApplyImpulseResponse": "ir_path: irs, ",
    }.get(name, "")
    if name == "ApplyImpulseResponse":
        ir = np.zeros(800, dtype=np.float32)
        ir[0], ir[400] = 1.0, 0.3  # a direct path and one late echo, 25 ms after it
        (tmp_path / "irs").mkdir()
        sf.write(tmp_path / "irs" / "echo.wav", ir, RATE)
    out = run(tmp_path, write_config, f"  - {name}: {{{extra}p: 1.0}}\n", copies=2)
    for file_name, segments in mapped(out).items():
        assert segments == [(s, e) for s, e in BURSTS]
        heard = bursts_in(out / file_name)
        assert len(heard) == len(BURSTS), (file_name, heard)
        for (start, end), (a, b) in zip(segments, heard, strict=True):
            assert abs(a - start) <= 0.006 and -0.006 <= b - end <= 0.04, (file_name, (start, end), (a, b))
