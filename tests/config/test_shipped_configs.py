"""Every config shipped in configs/ is valid and runs on sample_data."""

from __future__ import annotations

from pathlib import Path

import pytest

from audioaug_cli.config.load import load_config
from tests.helpers import ROOT, cli

CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))


def test_there_are_recipes() -> None:
    assert {
        "example.yaml",
        "speech_asr.yaml",
        "keyword_spotting.yaml",
        "music.yaml",
        "article.yaml",
        "torchaudio_specaugment.yaml",
        "enhancement.yaml",
        "separation.yaml",
        "telephony.yaml",
    } <= {c.name for c in CONFIGS}


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: p.name)
@pytest.mark.filterwarnings("ignore:Empty filters detected in mel frequency basis")  # as kapre's and torchaudio's
def test_config_runs_on_sample_data(config: Path, tmp_path: Path) -> None:
    loaded = load_config(config)
    assert isinstance(loaded.copies, int)  # the shipped configs give every input the same copies
    result = cli("run", config, ROOT / "sample_data", tmp_path / "out", "-j", "1")
    assert result.exit_code == 0, result.output
    written = [p for p in (tmp_path / "out").rglob(f"*{loaded.extension}")]
    stems = loaded.mix.stem_folders() if loaded.mix is not None else ("",)
    assert len(written) == 5 * loaded.copies * len(stems)
    for stem in stems:  # with mix:, a file of each name in every stem folder
        assert len(list((tmp_path / "out" / stem).rglob(f"*{loaded.extension}"))) == 5 * loaded.copies
    features = list((tmp_path / "out").rglob("*.npy"))
    assert len(features) == (5 * loaded.copies if loaded.spectrogram else 0)
