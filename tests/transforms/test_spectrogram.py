"""The spectrogram side: the feature against librosa's definition, the masks, the stretch, replay."""

from __future__ import annotations

import csv
import json
import math
import time
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.config.load import load_config, parse_config
from audioaug_cli.config.model import FeatureSettings
from audioaug_cli.transforms.spectrogram import FeatureAugmenter, clean_feature, replay_features, stft
from audioaug_cli.transforms.spectrogram_transforms import SpecFrequencyMask, SpecTimeMask, SpecTimeStretch
from tests.helpers import ROOT, cli, tone, tree, write_tone

SETTINGS = """\
spectrogram:
  n_fft: 512
  hop_length: 128
  n_mels: 40
  layout: {layout}
  pipeline: []
"""


def rows(out: Path) -> list[dict[str, str]]:
    with (out / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def written_audio(path: Path) -> tuple[np.ndarray, int]:
    frames_first, rate = sf.read(path, dtype="float32", always_2d=True)
    return np.ascontiguousarray(frames_first.T), rate


@pytest.mark.parametrize("layout", ["channels_first", "channels_last"])
@pytest.mark.parametrize("sample_rate", [None, 16000])
def test_the_feature_is_librosas_log_mel_of_the_written_audio(
    corpus: Path, tmp_path: Path, layout: str, sample_rate: int | None
) -> None:
    """Mono 16 kHz, stereo 44.1 kHz and mono 22.05 kHz inputs, at their own rate and resampled."""
    config = tmp_path / "c.yaml"
    config.write_text(
        f"version: 1\ncopies: 1\naudio: {{sample_rate: {sample_rate or 'null'}}}\n"
        "output: {subtype: FLOAT}\npipeline: [{Gain: {p: 1.0}}]\n" + SETTINGS.format(layout=layout)
    )
    result = cli("run", config, corpus, tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.stderr
    found = rows(tmp_path / "out")
    assert [r["channels"] for r in found] == ["1", "2", "1"]
    for row in found:
        x, rate = written_audio(tmp_path / "out" / row["file_name"])
        assert rate == (sample_rate or int(row["sample_rate"]))
        expected = librosa.power_to_db(
            librosa.feature.melspectrogram(
                y=x,
                sr=rate,
                n_fft=512,
                hop_length=128,
                win_length=None,
                window="hann",
                center=False,
                pad_mode="constant",
                power=1.0,
                n_mels=40,
                fmin=0.0,
                fmax=None,
                htk=False,
                norm="slaney",
            ),
            ref=1.0,
            amin=1e-5,
            top_db=80.0,
        )
        if layout == "channels_last":
            expected = expected.transpose(2, 1, 0)
        feature = np.load(tmp_path / "out" / row["feature_file"])
        assert feature.dtype == np.float32 and feature.shape == expected.shape
        np.testing.assert_allclose(feature, expected, rtol=1e-5, atol=1e-3)
        assert json.loads(row["transforms"])[0]["name"] == "Gain"


@pytest.mark.parametrize(
    "settings",
    [
        FeatureSettings(n_fft=1024, hop_length=256, center=False),
        FeatureSettings(n_fft=400, hop_length=200, center=True, pad_mode="reflect"),
        FeatureSettings(n_fft=512, hop_length=100, win_length=300, window="hamming", center=True, pad_mode="edge"),
    ],
)
def test_the_stft_is_librosas(settings: FeatureSettings) -> None:
    x = tone(0.7, 16000, channels=2).T.copy()
    expected = librosa.stft(
        x,
        n_fft=settings.n_fft,
        hop_length=settings.hop,
        win_length=settings.win_length,
        window=settings.window,
        center=settings.center,
        pad_mode=settings.pad_mode,
    )
    found = stft(x, settings)
    assert found.shape == expected.shape and found.dtype == np.complex64
    np.testing.assert_allclose(found, expected, rtol=1e-5, atol=1e-4)


def test_linear_stft_features_with_torchaudio_style_settings() -> None:
    """n_mels: null is the STFT's magnitude to `power`; db: null keeps linear values."""
    settings = FeatureSettings(
        n_fft=400, hop_length=200, center=True, pad_mode="reflect", n_mels=None, power=2.0, db=None
    )
    x = tone(0.5, 16000, channels=2).T.copy()
    expected = np.abs(librosa.stft(x, n_fft=400, hop_length=200, center=True, pad_mode="reflect")) ** 2
    np.testing.assert_allclose(clean_feature(x, 16000, settings), expected, rtol=1e-5, atol=1e-6 * expected.max())


# -- masks ------------------------------------------------------------------------------------
def masked(
    transform: SpecFrequencyMask | SpecTimeMask, seed: int, shape: tuple[int, int, int] = (2, 40, 60)
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    feature = np.random.default_rng(seed + 10_000).normal(size=shape).astype(np.float32)
    params = transform.draw(np.random.default_rng(seed), feature)
    return feature, transform.apply(feature, params, 128), params


@pytest.mark.parametrize(
    "transform,axis", [(SpecFrequencyMask(max_width=7, count=3), 1), (SpecTimeMask(max_width=9, count=2), 2)]
)
def test_masks_have_their_count_and_widths_in_bounds_and_change_only_their_cells(
    transform: SpecFrequencyMask | SpecTimeMask, axis: int
) -> None:
    widths: set[int] = set()
    for seed in range(300):
        feature, out, params = masked(transform, seed)
        assert len(params["masks"]) == transform.count and params["mask_value"] == -1.0
        expected_cells = np.zeros(feature.shape[axis], dtype=bool)
        for start, width in params["masks"]:
            assert 0 <= width <= transform.max_width and 0 <= start <= feature.shape[axis] - width
            expected_cells[start : start + width] = True
            widths.add(width)
        cells = np.moveaxis(out, axis, 0)
        assert np.all(cells[expected_cells] == -1.0)  # in every channel
        np.testing.assert_array_equal(cells[~expected_cells], np.moveaxis(feature, axis, 0)[~expected_cells])
    assert widths == set(range(transform.max_width + 1))  # both ends are reachable


def test_time_masks_respect_max_fraction_and_the_axis_length() -> None:
    bounded = SpecTimeMask(max_width=100, count=4, max_fraction=0.2)
    assert max(w for seed in range(200) for _s, w in masked(bounded, seed)[2]["masks"]) == 12  # floor(0.2 * 60)
    wide = SpecFrequencyMask(max_width=500, count=2)
    assert max(w for seed in range(200) for _s, w in masked(wide, seed)[2]["masks"]) <= 40


def test_mean_mode_uses_the_mean_just_before_the_mask() -> None:
    feature, out, params = masked(SpecTimeMask(max_width=20, count=1, mask_value="mean"), 3)
    start, width = params["masks"][0]
    assert width > 0
    assert params["mask_value"] == pytest.approx(float(feature.mean()), abs=1e-6)
    assert np.all(out[:, :, start : start + width] == np.float32(params["mask_value"]))


# -- time stretch -----------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [0.8, 0.93, 1.0, 1.25])
def test_time_stretch_gives_ceil_frames_over_rate_and_keeps_the_frequency(rate: float) -> None:
    settings = FeatureSettings(n_fft=1024, hop_length=256, n_mels=None, db=None)
    x = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000)).astype(np.float32)
    spectrum = stft(x, settings)
    stretched = SpecTimeStretch.apply(spectrum, {"rate": rate}, 256)
    assert stretched.shape[-1] == math.ceil(spectrum.shape[-1] / rate)
    np.testing.assert_allclose(
        stretched, np.abs(librosa.phase_vocoder(spectrum, rate=rate, hop_length=256)), rtol=1e-5, atol=1e-5
    )  # the magnitudes of librosa's phase vocoder
    tone_bin = round(1000 * 1024 / 16000)
    assert np.argmax(np.abs(stretched).mean(axis=-1)[0]) == tone_bin
    if rate == 1.0:
        np.testing.assert_allclose(np.abs(stretched), np.abs(spectrum), rtol=1e-4, atol=1e-4)


# -- the pipeline, replay and the run ---------------------------------------------------------
ARTICLE = (ROOT / "configs" / "article.yaml").read_text()


@pytest.mark.filterwarnings("ignore:Empty filters detected in mel frequency basis")  # 256 mels at 44.1 kHz
def test_replaying_the_recorded_parameters_gives_the_written_feature(corpus: Path, tmp_path: Path) -> None:
    config_path = tmp_path / "c.yaml"
    config_path.write_text(ARTICLE.replace("copies: 2", "copies: 4") + "\noutput: {subtype: FLOAT}\n")
    result = cli("run", config_path, corpus, tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.stderr
    settings = load_config(config_path).spectrogram
    assert settings is not None
    names: set[str] = set()
    for row in rows(tmp_path / "out"):
        applied = json.loads(row["transforms"])
        names.update(entry["name"] for entry in applied)
        x, rate = written_audio(tmp_path / "out" / row["file_name"])
        np.testing.assert_array_equal(
            replay_features(x, rate, settings, applied), np.load(tmp_path / "out" / row["feature_file"])
        )
    assert {"SpecTimeStretch", "SpecFrequencyMask", "SpecTimeMask"} <= names


def test_the_same_seed_gives_the_same_feature_and_another_seed_another() -> None:
    config = parse_config(ARTICLE)
    assert config.spectrogram is not None
    features = FeatureAugmenter(config.spectrogram)
    x = tone(1.0, 16000)
    one, applied = features.augment(x, 16000, 5)
    again, applied_again = features.augment(x, 16000, 5)
    other, _ = features.augment(x, 16000, 6)
    assert np.array_equal(one, again) and applied == applied_again
    assert not np.array_equal(one, other)


def test_features_only_with_write_audio_false(corpus: Path, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(ARTICLE.replace("write_audio: true", "write_audio: false"))
    result = cli("run", config, corpus, tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.stderr
    written = tree(tmp_path / "out")
    assert not [n for n in written if n.endswith(".wav")]
    assert sorted(n for n in written if n.endswith(".npy")) == sorted(r["file_name"] for r in rows(tmp_path / "out"))
    assert all(r["file_name"] == r["feature_file"] for r in rows(tmp_path / "out"))


def test_a_clip_shorter_than_n_fft_fails_alone(tmp_path: Path) -> None:
    write_tone(tmp_path / "in" / "long.wav", 0.5, 16000)
    write_tone(tmp_path / "in" / "short.wav", 0.03, 16000)  # 480 samples, n_fft 1024
    config = tmp_path / "c.yaml"
    config.write_text(ARTICLE)
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert result.exit_code == 1
    with (tmp_path / "out" / "errors.csv").open(newline="") as handle:
        assert list(csv.reader(handle))[1:] == [
            [
                "short.wav",
                "too short for the spectrogram: 480 samples, fewer "
                "than n_fft (1024); with center: false each frame needs n_fft "
                "samples",
            ]
        ]
    assert sorted(tree(tmp_path / "out")) == [
        "audioaug.json",
        "errors.csv",
        "long__aug1.npy",
        "long__aug1.wav",
        "long__aug2.npy",
        "long__aug2.wav",
        "manifest.csv",
    ]


def test_empty_mel_bands_are_one_warning_per_run(tmp_path: Path) -> None:
    from tests.helpers import audioaug

    for i in range(4):
        write_tone(tmp_path / "in" / f"f{i}.wav", 0.5, 44100)  # 256 mel bands from 1024 bins at 44.1 kHz
    config = tmp_path / "c.yaml"
    config.write_text(ARTICLE)
    done = audioaug("run", config, tmp_path / "in", tmp_path / "out", "-j", "2")
    assert done.returncode == 0, done.stderr
    warned = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warned) == 1 and "Empty filters detected in mel frequency basis" in warned[0], done.stderr


SECTION_ERRORS = [
    (
        "  layout: channels_middle\n",
        "line 11: spectrogram.layout: expected channels_first or channels_last, found "
        "'channels_middle'; did you mean channels_last?",
    ),
    (
        "  pipeline: [{SpecTimeMask: {max_widht: 3}}]\n",
        "line 11: spectrogram.pipeline[0].SpecTimeMask.max_widht: unknown parameter; did you mean max_width?",
    ),
    (
        "  pipeline: [PitchShift]\n",
        "line 11: spectrogram.pipeline[0]: PitchShift is a waveform transform: it "
        "belongs in the top-level pipeline, not in spectrogram.pipeline",
    ),
    (
        "  pipeline: [SpecTimeMask, SpecTimeStretch]\n",
        "line 11: spectrogram.pipeline: SpecTimeStretch works on the "
        "STFT, before the mel and dB steps, so it must come before "
        "every mask",
    ),
    ("  win_length: 2048\n", "line 11: spectrogram.win_length: must be at most n_fft (1024), found 2048"),
    ("  db: {ref: 1.0, amin: 0}\n", "line 11: spectrogram.db.amin: must be greater than 0.0, found 0"),
]


@pytest.mark.parametrize("line,message", SECTION_ERRORS)
def test_errors_in_the_section_are_located_and_nothing_is_written(tmp_path: Path, line: str, message: str) -> None:
    write_tone(tmp_path / "in" / "a.wav")
    config = tmp_path / "c.yaml"
    config.write_text(
        "version: 1\npipeline: []\nspectrogram:\n  n_fft: 1024\n"
        + "".join(
            f"  {k}: {v}\n"
            for k, v in [
                ("n_mels", 64),
                ("hop_length", 256),
                ("fmin", 0),
                ("htk", "false"),
                ("norm", "slaney"),
                ("power", 1.0),
            ]
        )
        + line
    )
    result = cli("run", config, tmp_path / "in", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == f"error: {config}: {message}\n"
    assert not (tmp_path / "out").exists()


def test_features_are_byte_identical_across_jobs_and_backends_and_survive_sigkill(tmp_path: Path) -> None:
    import os
    import signal

    from tests.helpers import audioaug, finish, start

    for i in range(16):
        write_tone(
            tmp_path / "in" / f"d{i % 2}" / f"f{i:02d}.wav", 0.5 + 0.25 * (i % 3), 16000, 1 + (i % 5 == 0), 200 + 23 * i
        )
    config = tmp_path / "c.yaml"
    config.write_text(ARTICLE)
    runs = {"one": ("-j", "1"), "two": ("-j", "2"), "dask": ("--backend", "dask", "-j", "2")}
    for name, options in runs.items():
        done = audioaug("run", config, tmp_path / "in", tmp_path / name, *options)
        assert done.returncode == 0, done.stderr
    reference = tree(tmp_path / "one")
    assert len([n for n in reference if n.endswith(".npy")]) == 32
    assert tree(tmp_path / "two") == reference
    assert tree(tmp_path / "dask") == reference
    out = tmp_path / "killed"
    process = start(config, tmp_path / "in", out)
    while process.poll() is None and len(list(out.rglob("*.npy"))) < 10:
        time.sleep(0.005)
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    assert finish(process, -signal.SIGKILL) == -signal.SIGKILL
    for path in out.rglob("*.npy"):  # what stands under a final name is whole
        assert path.read_bytes() == reference[path.relative_to(out).as_posix()]
    assert finish(start(config, tmp_path / "in", out)) == 0
    assert tree(out) == reference


def test_compositions_nest_in_the_spectrogram_pipeline() -> None:
    stretches = "[SpecTimeStretch, {SpecTimeStretch: {min_rate: 2, max_rate: 3}}]"
    config = parse_config(
        "version: 1\npipeline: []\nspectrogram:\n  n_mels: 32\n  pipeline:\n"
        f"    - OneOf: {{transforms: {stretches}}}\n"
        "    - SomeOf: {num_transforms: 2, transforms: [SpecTimeMask, SpecFrequencyMask, "
        "{SpecTimeMask: {max_width: 3}}], p: 0.5}\n"
    )
    assert config.spectrogram is not None
    features = FeatureAugmenter(config.spectrogram)
    seen: set[tuple[str, ...]] = set()
    for seed in range(60):
        _feature, applied = features.augment(tone(0.5), 16000, seed)
        names = tuple(entry["name"] for entry in applied)
        assert names.count("SpecTimeStretch") <= 1  # one of the two, when its p (0.5) says so
        masks = [n for n in names if n != "SpecTimeStretch"]
        assert len(masks) in (0, 2)  # two of the three, half the time
        seen.add(names)
    assert len(seen) >= 5


def test_a_shuffled_compose_may_not_put_the_stretch_after_a_mask() -> None:
    from audioaug_cli.errors import ConfigError

    with pytest.raises(ConfigError, match="may not hold both SpecTimeStretch and masks"):
        parse_config(
            "version: 1\npipeline: []\nspectrogram:\n  pipeline:\n"
            "    - Compose: {shuffle: true, transforms: [SpecTimeStretch, SpecTimeMask]}\n"
        )
