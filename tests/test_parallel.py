"""Real processes: parallel workers give byte-identical results (SPEC guarantee 1)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, tree, write_tone

PIPELINE = """\
version: 1
seed: 11
copies: 3
pipeline:
  - AddGaussianNoise: {min_amplitude: 0.001, max_amplitude: 0.015, p: 0.5}
  - PitchShift: {min_semitones: -4, max_semitones: 4, p: 0.5}
  - Shift: {min_shift: -0.5, max_shift: 0.5, p: 0.5}
  - OneOf:
      p: 0.5
      transforms: [LowPassFilter, {SomeOf: {num_transforms: [1, 2], transforms: [Gain, Reverse, TimeMask]}}]
"""


def audioaug(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "audioaug_cli", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_jobs_1_and_jobs_2_write_identical_trees(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    for i in range(12):  # uneven lengths, so workers finish out of order
        write_tone(inputs / f"d{i % 3}" / f"clip{i:02d}.wav", 0.2 + 0.15 * (i % 5), 16000, 1 + (i % 4 == 0),
                   200 + 37 * i)
    config = tmp_path / "c.yaml"
    config.write_text(PIPELINE)
    one, two = audioaug("run", config, inputs, tmp_path / "one", "-j", "1"), \
        audioaug("run", config, inputs, tmp_path / "two", "-j", "2")
    assert one.returncode == 0, one.stderr
    assert two.returncode == 0, two.stderr
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert len([n for n in first if n.endswith(".wav")]) == 36
    assert first == second
