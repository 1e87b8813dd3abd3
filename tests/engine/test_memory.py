"""SPEC guarantee 5: memory does not grow with the number of input files."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from audioaug_cli.config.load import parse_config
from audioaug_cli.engine.run import RunOptions, run
from tests.helpers import write_tone


def peak_bytes(tmp_path: Path, files: int) -> int:
    inputs = tmp_path / f"in{files}"
    for i in range(files):
        write_tone(inputs / f"d{i % 4}" / f"f{i:04d}.wav", 0.05, 8000)
    config = parse_config("version: 1\ncopies: 2\npipeline:\n  - Gain: {p: 1.0}\n  - Shift: {p: 0.5}\n")
    run(config, inputs, tmp_path / "warmup", RunOptions(jobs=1, include=("d0/f0000.wav",)))  # import, build
    tracemalloc.start()
    try:
        summary = run(config, inputs, tmp_path / f"out{files}", RunOptions(jobs=1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.written == 2 * files
    return peak


def test_peak_memory_does_not_grow_with_the_number_of_files(tmp_path: Path) -> None:
    small, large = peak_bytes(tmp_path, 40), peak_bytes(tmp_path, 160)
    # Four times the files: anything held per file would show as ~4x. Allow 50% for noise.
    assert large < small * 1.5, (small, large)
