"""Shared fixtures: synthesised audio (no downloads) and a CLI runner."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner, Result

from audioaug_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent


def tone(seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A sine with a little deterministic noise, frames-first (as soundfile writes)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(freq))
    waves = [0.3 * np.sin(2 * np.pi * freq * (1 + 0.25 * c) * t) + 0.01 * rng.standard_normal(len(t))
             for c in range(channels)]
    return np.stack(waves, axis=1).astype(np.float32) if channels > 1 else waves[0].astype(np.float32)


def write_tone(path: Path, seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1,
               freq: float = 440.0, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sample_rate, channels, freq), sample_rate, subtype=subtype)
    return path


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


SIMPLE = """\
version: 1
seed: 3
copies: 2
pipeline:
  - Gain: {min_gain_db: -6, max_gain_db: 6, p: 1.0}
  - Shift: {min_shift: -0.2, max_shift: 0.2, p: 0.5}
"""


def cli(*args: str | os.PathLike[str], env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process; exit code and output as a user would see them."""
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under folder (relative path -> bytes), except the resume state."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".audioaug" not in p.relative_to(folder).parts}
