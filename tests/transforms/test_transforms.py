"""Every audiomentations waveform transform is constructible from YAML and runs in a real run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from audioaug_cli.config.load import parse_config
from audioaug_cli.transforms import registry
from audioaug_cli.transforms.waveform import WaveformPipeline
from tests.helpers import cli, tone, write_tone

NEEDS = {  # required parameters, and a few that keep the test fast
    "AddBackgroundNoise": "{sounds_path: sounds, p: 1.0}",
    "AddShortNoises": "{sounds_path: sounds, p: 1.0}",
    "ApplyImpulseResponse": "{ir_path: sounds, p: 1.0}",
    "AdjustDuration": "{duration_seconds: 0.25, p: 1.0}",
    "RoomSimulator": "{use_ray_tracing: false, p: 1.0}",
}


def test_the_registry_holds_every_waveform_transform_but_lambda() -> None:
    import audiomentations
    from audiomentations.core.transforms_interface import BaseWaveformTransform

    exported = {
        n
        for n in dir(audiomentations)
        if isinstance(getattr(audiomentations, n), type)
        and issubclass(getattr(audiomentations, n), BaseWaveformTransform)
    }
    own = {"SpeedPerturb", "Codec", "Telephone"}  # audioaug's own
    assert set(registry.transform_classes()) == exported - {"Lambda"} | own
    assert len(exported) >= 38


@pytest.mark.parametrize("name", sorted(registry.transform_classes()))
def test_transform_runs(name: str, tmp_path: Path) -> None:
    write_tone(tmp_path / "sounds" / "n.wav", 0.3, 16000, 1, 900)
    write_tone(tmp_path / "in" / "mono.wav", 0.5, 16000, 1)
    multichannel = bool(getattr(registry.transform_classes()[name], "supports_multichannel", True))
    if multichannel:
        write_tone(tmp_path / "in" / "stereo.wav", 0.5, 16000, 2)
    params = NEEDS.get(name, "{p: 1.0}")
    config = tmp_path / "c.yaml"
    config.write_text(f"version: 1\npipeline:\n  - {name}: {params}\n")
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, (
        result.output + (tmp_path / "out" / "errors.csv").read_text()
        if (tmp_path / "out" / "errors.csv").exists()
        else result.output
    )
    assert (tmp_path / "out" / "mono__aug1.wav").exists()
    if multichannel:
        assert sf.info(tmp_path / "out" / "stereo__aug1.wav").channels == 2


@pytest.mark.filterwarnings("ignore::UserWarning")  # e.g. RepeatPart: "not long enough" for some draws
@pytest.mark.parametrize("name", sorted(registry.transform_classes()))
def test_transform_is_reproduced_from_the_seed(name: str, tmp_path: Path) -> None:
    """With its defaults (RoomSimulator's ray tracing included), in a fresh WaveformPipeline, after
    another item: the seed alone fixes the output."""
    write_tone(tmp_path / "sounds" / "n.wav", 0.3, 16000, 1, 900)
    params = NEEDS.get(name, "{p: 1.0}").replace("use_ray_tracing: false, ", "")
    config = parse_config(f"version: 1\npipeline:\n  - {name}: {params}\n", base_dir=tmp_path)
    samples = tone(0.5) + np.float32(0.01) * np.random.default_rng(0).standard_normal(8000, dtype=np.float32)
    first = WaveformPipeline(config.pipeline, config.base_dir)
    out, record = first.augment(samples.copy(), 16000, 7)
    first.augment(samples.copy(), 16000, 8)
    again, record_again = WaveformPipeline(config.pipeline, config.base_dir).augment(samples.copy(), 16000, 7)
    assert np.array_equal(out, again) and record == record_again


def test_a_mono_only_transform_fails_multichannel_items_alone(tmp_path: Path) -> None:
    write_tone(tmp_path / "in" / "mono.wav", 0.5, 16000, 1)
    write_tone(tmp_path / "in" / "stereo.wav", 0.5, 16000, 2)
    write_tone(tmp_path / "sounds" / "n.wav", 0.3)
    config = tmp_path / "c.yaml"
    config.write_text("version: 1\npipeline:\n  - AddBackgroundNoise: {sounds_path: sounds, p: 1.0}\n")
    result = cli("run", config, tmp_path / "in", tmp_path / "out", "-j", "1")
    assert result.exit_code == 1
    errors = (tmp_path / "out" / "errors.csv").read_text()
    assert errors.splitlines()[1:] == [
        'stereo.wav,"AddBackgroundNoise works on mono audio only, and this input has '
        "more than one channel: `audio: {mono: true}` in the config mixes every input "
        'down to mono"'
    ]
    assert (tmp_path / "out" / "mono__aug1.wav").exists()
