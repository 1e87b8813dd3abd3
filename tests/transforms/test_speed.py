"""SpeedPerturb, checked against the audio: its length, and where a tone's frequency goes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli import Augmenter
from audioaug_cli.config.load import parse_config
from tests.helpers import ROOT, ConfigWriter, cli, rows, write_tone


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[np.argmax(spectrum)])


@pytest.mark.parametrize("rate", [0.9, 1.1, 0.5, 2.0])
def test_a_1khz_tone_comes_out_at_1khz_times_the_rate_in_round_frames_over_rate(rate: float) -> None:
    sample_rate, frames = 16000, 32000
    t = np.arange(frames) / sample_rate
    stereo = np.stack([0.5 * np.sin(2 * np.pi * 1000 * t), 0.5 * np.sin(2 * np.pi * 1500 * t)], axis=1)
    augment = Augmenter(parse_config(f"version: 1\npipeline:\n  - SpeedPerturb: {{rates: [{rate}]}}\n"))
    out, applied = augment(stereo.astype(np.float32), sample_rate, seed=3)
    assert applied == [{"name": "SpeedPerturb", "params": {"rate": rate}}]
    assert out.shape == (round(frames / rate), 2)
    for channel, tone in ((0, 1000), (1, 1500)):
        assert abs(dominant_frequency(out[:, channel], sample_rate) - tone * rate) < 2.0


def test_by_copy_is_kaldis_three_way_perturbation(tmp_path: Path, write_config: ConfigWriter) -> None:
    write_tone(tmp_path / "in" / "utt.wav", seconds=1.0, freq=500)
    config = write_config("version: 1\ncopies: 3\npipeline:\n  - SpeedPerturb: {choice: by_copy}\n")
    out = tmp_path / "out"
    assert cli("run", config, tmp_path / "in", out, "-j", "1", "--include-original").exit_code == 0
    found = {r["copy"]: r for r in rows(out / "manifest.csv")}
    assert {c: int(r["frames"]) for c, r in found.items()} == {"0": 16000, "1": 17778, "2": 16000, "3": 14545}
    assert [json.loads(found[c]["transforms"]) for c in "123"] == [
        [{"name": "SpeedPerturb", "params": {"rate": rate}}] for rate in (0.9, 1.0, 1.1)
    ]
    for copy, rate in (("1", 0.9), ("3", 1.1)):
        audio, _ = sf.read(out / found[copy]["file_name"])
        assert abs(dominant_frequency(audio, 16000) - 500 * rate) < 2.0
    assert cli("replay", out).exit_code == 0


def test_random_choice_draws_a_listed_rate_per_item_from_the_item_seed() -> None:
    augment = Augmenter(parse_config("version: 1\npipeline:\n  - SpeedPerturb: {rates: [0.8, 1.25]}\n"))
    tone = np.zeros(8000, dtype=np.float32)
    drawn = [augment(tone, 16000, seed=s)[1][0]["params"]["rate"] for s in range(40)]
    assert set(drawn) == {0.8, 1.25}
    assert drawn == [augment(tone, 16000, seed=s)[1][0]["params"]["rate"] for s in range(40)]


def test_by_copy_online_needs_the_copy_number() -> None:
    augment = Augmenter(parse_config("version: 1\npipeline:\n  - SpeedPerturb: {choice: by_copy}\n"))
    tone = np.zeros(8000, dtype=np.float32)
    assert augment(tone, 16000, seed=1, copy=3)[1] == [{"name": "SpeedPerturb", "params": {"rate": 1.1}}]
    with pytest.raises(ValueError, match="by_copy takes the rate from the copy number: give copy="):
        augment(tone, 16000, seed=1)


def test_rates_outside_what_speed_means_are_config_errors(write_config: ConfigWriter) -> None:
    config = write_config("version: 1\npipeline:\n  - SpeedPerturb: {rates: [1.0, 0]}\n")
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {config}: line 3: pipeline[0]: SpeedPerturb's parameters: each rate must be a number from 0.1 to "
        "10.0, found 0\n"
    )


def test_the_kaldi_recipe_is_three_way_speed_perturbation(tmp_path: Path) -> None:
    config = ROOT / "configs" / "kaldi_asr.yaml"
    write_tone(tmp_path / "in" / "utt.wav", seconds=1.0)
    out = tmp_path / "out"
    assert cli("run", config, tmp_path / "in", out, "-j", "1", "--include-original").exit_code == 0
    speeds = {
        r["copy"]: [t["params"].get("rate") for t in json.loads(r["transforms"]) if t["name"] == "SpeedPerturb"]
        for r in rows(out / "manifest.csv")
    }
    assert speeds == {"0": [], "1": [0.9], "2": [1.0], "3": [1.1]}
