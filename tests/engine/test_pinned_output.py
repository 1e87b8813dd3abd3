"""What a pinned config, seed and corpus write, as a digest checked in from an earlier version:
any change to how items draw (the generators' construction, the order of draws), to the bytes
written or to the manifest fails here, at -j 1, -j 2 and on dask alike. An OUTPUT_DIR made by
that version must still resume and replay under this one, which needs exactly these bytes.

The corpus is integer arithmetic written as PCM_16 (no sine whose last bit a math library may
change); the transforms are ones whose arithmetic is plain (gains, noise, shifts, masks)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.helpers import audioaug, tree

PINNED = """\
version: 1
seed: 20261202
copies: 3
output: {format: wav, subtype: PCM_16}
pipeline:
  - AddGaussianNoise: {min_amplitude: 0.001, max_amplitude: 0.02, p: 0.7}
  - Gain: {min_gain_db: -9, max_gain_db: 3, p: 0.8}
  - OneOf:
      transforms:
        - Shift: {min_shift: -0.3, max_shift: 0.3, rollover: true, p: 1.0}
        - TimeMask: {min_band_part: 0.05, max_band_part: 0.2, p: 1.0}
  - SomeOf:
      num_transforms: [0, 2]
      transforms: [PolarityInversion, Reverse, {GainTransition: {p: 1.0}}]
"""
# sha256 of every output file's name and bytes (manifest included, audioaug.json left out: it
# records versions and paths), made by the version before per-item costs were cut.
DIGEST = "528824be9c0cf25566f1e3a748aea58f452a352fb5847503f42c1a47ac902b85"


def corpus(root: Path) -> Path:
    """Tiny clips (0.1 s) and a few long files, mono and stereo, at three rates."""
    state = np.uint32(12345)
    for i in range(24):
        rate = (8000, 16000, 22050)[i % 3]
        seconds = 4.0 if i % 8 == 0 else 0.1
        frames, channels = int(rate * seconds), 2 if i % 5 == 0 else 1
        steps = np.arange(frames * channels, dtype=np.uint32)
        noise = (steps * np.uint32(1103515245) + state + np.uint32(i * 7919)) >> np.uint32(17)  # an LCG's bits
        samples = ((noise.astype(np.int64) % 20001) - 10000).astype(np.int16).reshape(frames, channels)
        path = root / f"g{i % 4}" / f"clip{i:02d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, samples, rate, subtype="PCM_16")
    return root


def digest(folder: Path) -> str:
    found = hashlib.sha256()
    for name, data in sorted(tree(folder).items()):
        if name != "audioaug.json":
            found.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return found.hexdigest()


@pytest.mark.parametrize("how", [("-j", "1"), ("-j", "2"), ("-j", "2", "--backend", "dask")], ids=["j1", "j2", "dask"])
def test_a_pinned_config_writes_the_bytes_it_always_wrote(tmp_path: Path, how: tuple[str, ...]) -> None:
    if "dask" in how:
        pytest.importorskip("dask.distributed")
    config = tmp_path / "pinned.yaml"
    config.write_text(PINNED)
    done = audioaug("run", config, corpus(tmp_path / "in"), tmp_path / "out", "-q", *how)
    assert done.returncode == 0, done.stderr
    assert len(tree(tmp_path / "out")) == 24 * 3 + 2
    assert digest(tmp_path / "out") == DIGEST
