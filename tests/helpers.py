"""What the tests share: synthesised audio (no downloads), the CLI in-process and as a process,
and small readers of what a run wrote. Fixtures are in conftest.py."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
from click.testing import CliRunner, Result

from audioaug_cli.cli import main

ROOT = Path(__file__).resolve().parent.parent


def tone(seconds: float = 0.5, sample_rate: int = 16000, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    """A sine with a little deterministic noise, frames-first (as soundfile writes)."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(freq))
    waves = [
        0.3 * np.sin(2 * np.pi * freq * (1 + 0.25 * c) * t) + 0.01 * rng.standard_normal(len(t))
        for c in range(channels)
    ]
    return np.stack(waves, axis=1).astype(np.float32) if channels > 1 else waves[0].astype(np.float32)


def write_tone(
    path: Path,
    seconds: float = 0.5,
    sample_rate: int = 16000,
    channels: int = 1,
    freq: float = 440.0,
    subtype: str = "PCM_16",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, sample_rate, channels, freq), sample_rate, subtype=subtype)
    return path


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
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".audioaug" not in p.relative_to(folder).parts
    }


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
    return subprocess.run(
        [sys.executable, "-m", "audioaug_cli", *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def start(config: Path, inputs: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "audioaug_cli", "run", str(config), str(inputs), str(out), "-j", "2", "-q", *extra],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish(process: subprocess.Popen[bytes], expected: int = 0) -> int:
    """Wait for the process; show its stderr if the exit code is not the expected one."""
    _, stderr = process.communicate(timeout=300)
    if process.returncode != expected:
        print(stderr.decode(errors="replace"), file=sys.stderr)
    return process.returncode


def make_corpus(root: Path, files: int = 10) -> Path:
    for i in range(files):
        write_tone(root / f"d{i % 2}" / f"c{i}.wav", 0.2 + 0.1 * (i % 4), 16000, 1 + (i % 3 == 0), 300 + 41 * i)
    return root


ConfigWriter = Callable[..., Path]


AUDIOAUG = str(Path(sys.executable).with_name("audioaug"))


@contextmanager
def within(seconds: int) -> Iterator[None]:
    """Fail, instead of hanging, if the block takes longer than ``seconds``."""

    def expire(_signum: int, _frame: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
