"""Hostile configs: YAML bombs, deep nesting, absurd copies, FIFOs, values no transform can use.

Each case that could hang runs under a timer, so that a hang fails the test instead of the suite.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from audioaug_cli.config.load import parse_config
from audioaug_cli.errors import ConfigError
from tests.helpers import ROOT, SIMPLE, ConfigWriter, cli, rows, within, write_tone

# -- 1. links --------------------------------------------------------------------------------


def bomb(levels: int, width: int) -> str:
    lines = ["a0: &a0 [Reverse]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "\n".join(["x:", *("  " + line for line in lines), "version: 1", f"pipeline: *a{levels - 1}"]) + "\n"


def nested(depth: int) -> str:
    text = "Reverse"
    for _level in range(depth - 1):
        text = f"{{OneOf: {{transforms: [{text}]}}}}"
    return f"version: 1\npipeline: [{text}]\n"


NOISE = "version: 1\npipeline:\n  - AddBackgroundNoise: {{sounds_path: {path}, p: 1.0}}\n"


def test_a_yaml_alias_bomb_is_refused_at_once(write_config: ConfigWriter) -> None:
    with within(10):
        result = cli("validate", write_config(bomb(9, 9)))
    assert result.exit_code == 2
    assert "expands to more than 10,000 values once its aliases (*name) are expanded" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_recursive_alias_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="refers to a node that contains it"), within(10):
        parse_config("version: 1\npipeline: &p [Reverse, *p]\n")


def test_nesting_is_limited_to_32_levels(write_config: ConfigWriter) -> None:
    assert cli("validate", write_config(nested(32))).exit_code == 0
    deep = cli("validate", write_config(nested(33)))
    assert deep.exit_code == 2
    assert "transforms are nested more than 32 levels deep here" in deep.stderr
    with within(10):
        very = cli("validate", write_config(nested(200)))
    assert very.exit_code == 2 and "Traceback" not in very.output and len(very.stderr.splitlines()) == 1


def test_absurd_copies_are_refused(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    result = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--copies", "1000000000", "--dry-run")
    assert result.exit_code == 2 and "1000000000 is not in the range 1<=x<=10000" in result.stderr
    config = write_config(SIMPLE.replace("copies: 2", "copies: 1000000000"))
    refused = cli("validate", config)
    assert refused.exit_code == 2 and "copies: must be at most 10,000, found 1,000,000,000" in refused.stderr
    by_label = write_config("version: 1\ncopies: {by: label, default: 20000}\npipeline: []\n")
    assert "must be at most 10,000, found 20,000" in cli("validate", by_label).stderr


def test_unusable_noise_paths_are_named_at_the_check(
    tmp_path: Path, write_config: ConfigWriter, monkeypatch: pytest.MonkeyPatch
) -> None:
    noises = tmp_path / "noises"
    write_tone(noises / "good.wav")
    (noises / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    result = cli("validate", write_config(NOISE.format(path="noises")))
    assert result.exit_code == 2
    assert f"sounds_path: {noises / 'broken.wav'}: cannot decode: " in result.stderr
    assert "good.wav" not in result.stderr
    passwd = cli("validate", write_config(NOISE.format(path="/etc/passwd")))
    assert "sounds_path: /etc/passwd is not an audio file" in passwd.stderr
    import audioaug_cli.io.sounds as sounds

    monkeypatch.setattr(sounds, "MAX_SOUND_ENTRIES", 50)
    for i in range(60):
        (tmp_path / "big" / str(i)).mkdir(parents=True)
    with within(20):
        big = cli("validate", write_config(NOISE.format(path="big")))
    assert "holds more than 50 files and folders: point it at a folder of sounds" in big.stderr


def test_a_fifo_as_config_or_labels_is_refused(corpus: Path, tmp_path: Path, write_config: ConfigWriter) -> None:
    os.mkfifo(tmp_path / "pipe.yaml")
    os.mkfifo(tmp_path / "labels.csv")
    with within(20):
        config = cli("validate", tmp_path / "pipe.yaml")
        labels = cli("run", write_config(SIMPLE), corpus, tmp_path / "out", "--labels", tmp_path / "labels.csv")
    assert config.exit_code == 2
    assert config.stderr == f"error: {tmp_path / 'pipe.yaml'}: not a regular file (a FIFO, socket or device)\n"
    assert labels.exit_code == 2
    assert labels.stderr == (
        f"error: {tmp_path / 'labels.csv'}: the labels CSV is not a regular file (a FIFO, socket or device)\n"
    )


def test_validate_refuses_parameters_no_transform_can_use(write_config: ConfigWriter) -> None:
    config = write_config(
        "version: 1\npipeline:\n"
        "  - Gain: {min_gain_db: .nan, max_gain_db: .inf}\n"
        "  - LowPassFilter: {min_cutoff_freq: -100, max_cutoff_freq: 1.0e12}\n"
        "  - AddGaussianNoise: {min_amplitude: -0.1}\n"
        "  - Shift: {min_shift: .nan}\n"
    )
    result = cli("validate", config)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {config}: line 3: pipeline[0].Gain.min_gain_db: must be a finite number, found .nan",
        f"error: {config}: line 3: pipeline[0].Gain.max_gain_db: must be a finite number, found .inf",
        f"error: {config}: line 4: pipeline[1].LowPassFilter.min_cutoff_freq: must be at least 1 Hz and at most "
        "96,000 Hz, found -100",
        f"error: {config}: line 4: pipeline[1].LowPassFilter.max_cutoff_freq: must be at least 1 Hz and at most "
        "96,000 Hz, found 1,000,000,000,000",
        f"error: {config}: line 5: pipeline[2].AddGaussianNoise.min_amplitude: must be at least 0, found -0.1",
        f"error: {config}: line 6: pipeline[3].Shift.min_shift: must be a finite number, found .nan",
    ]


def _hostile_values(name: str, key: str, annotation: str) -> list[object]:
    from audioaug_cli.config.limits import limit_of

    if annotation.startswith("an integer"):
        values: list[object] = [-1, 0, 10**12, -(10**12)]
    elif "number" in annotation:
        values = [float("nan"), float("inf"), float("-inf"), -1.0, 0.0, 1e-12, 1e12, -1e12]
    else:
        return []
    limit = limit_of(name, key, {})
    if limit is not None:  # the edges of what is allowed must work too; a frequency above the clip's
        # Nyquist frequency is a matter of the input (test_frequencies_above_an_inputs_nyquist_frequency),
        # and the top of a duration's range only makes a longer item: a minute stands for it here
        high = min(limit.high, 7_000.0) if key.endswith("_freq") else limit.high
        if limit.unit == " s" or key.endswith("_samples"):
            high = min(high, 60.0 if limit.unit == " s" else 60 * 16_000)
        values += [v for v in (limit.low, high) if np.isfinite(v)]
    return values


def _transform_names() -> list[str]:
    from audioaug_cli.transforms import registry

    return list(registry.transform_names())


@pytest.mark.parametrize("name", _transform_names())
def test_every_hostile_parameter_value_is_refused_or_works(name: str) -> None:
    """For each number a transform takes: NaN, infinities, negative, zero, tiny and huge values (and
    the edges of the allowed range): the config check refuses it, or an item made with it is finite
    audio. Never an exception in the item."""
    import warnings

    import yaml

    from audioaug_cli import Augmenter
    from audioaug_cli.transforms import registry
    from audioaug_cli.transforms.annotations import describe

    params = registry.params_of(name)
    extra: dict[str, dict[str, object]] = {
        "AddBackgroundNoise": {"sounds_path": "noises"},
        "AddShortNoises": {"sounds_path": "noises"},
        "ApplyImpulseResponse": {"ir_path": "irs"},
        "AdjustDuration": {"duration_samples": 8000},
        # the room's geometry is what is checked; its ray tracer (a second per room here) is not
        "RoomSimulator": {"use_ray_tracing": False},
    }
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(8000) / 16000)).astype(np.float32)
    tried = 0  # values checked: refused by the config check, or made into an item
    for key, param in params.items():
        if key == "p" or key.endswith("_path") or param.takes_transform:
            continue
        for value in _hostile_values(name, key, describe(param.shape)):
            body: dict[str, object] = {**extra.get(name, {}), "p": 1.0, key: value}
            if name == "AdjustDuration" and key.startswith("duration"):
                body = {"p": 1.0, key: value}
            other = ("max_" if key.startswith("min_") else "min_") + key[4:]
            if key[:4] in ("min_", "max_") and other in params:
                body[other] = value  # past the ordering check
            text = yaml.safe_dump({"version": 1, "pipeline": [{name: body}]})
            tried += 1
            try:
                config = parse_config(text, "fuzz", base_dir=ROOT / "configs")
            except ConfigError:
                continue
            with warnings.catch_warnings(), np.errstate(all="ignore"), within(30):
                warnings.simplefilter("ignore")
                out, _applied = Augmenter(config)(samples, 16000, seed=7)
            assert out.size and np.isfinite(out).all(), (key, value)
    assert tried or name in ("Normalize", "PolarityInversion", "Reverse")  # the three that take no number


def test_frequencies_above_an_inputs_nyquist_frequency(tmp_path: Path, write_config: ConfigWriter) -> None:
    """Moved just below it where audiomentations' filters do that (Butterworth cutoffs, shelves); a
    band or a peak wholly above it fails that input alone, saying so."""
    write_tone(tmp_path / "in" / "phone.wav", sample_rate=8000)
    low = write_config(
        "version: 1\npipeline:\n  - LowPassFilter: {min_cutoff_freq: 7000, max_cutoff_freq: 7500, "
        "p: 1.0}\n  - HighShelfFilter: {min_center_freq: 7000, max_center_freq: 7500, p: 1.0}\n"
    )
    assert cli("run", low, tmp_path / "in", tmp_path / "low", "-j", "1").exit_code == 0
    for name, more in (
        ("BandPassFilter", "min_bandwidth_fraction: 0.1, max_bandwidth_fraction: 0.2, "),
        ("PeakingFilter", ""),
    ):
        config = write_config(
            f"version: 1\npipeline:\n  - {name}: {{min_center_freq: 7000, max_center_freq: 7500, {more}p: 1.0}}\n"
        )
        out = tmp_path / name
        assert cli("run", config, tmp_path / "in", out, "-j", "1").exit_code == 1
        (error,) = rows(out / "errors.csv")
        assert error["error"].startswith(f"{name}: its frequencies lie above this input's Nyquist frequency (4000 Hz)")
