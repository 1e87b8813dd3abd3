"""The fixtures every test folder shares (helpers.py holds the plain functions)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import write_tone


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    """A small nested input tree: mono 16 kHz WAV, stereo 44.1 kHz WAV, mono 22.05 kHz FLAC."""
    root = tmp_path / "in"
    write_tone(root / "a.wav", 0.5, 16000, 1, 440)
    write_tone(root / "music" / "stereo.wav", 0.4, 44100, 2, 330)
    write_tone(root / "speech" / "deep" / "voice.flac", 0.6, 22050, 1, 220)
    return root


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    def write(text: str, name: str = "config.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
