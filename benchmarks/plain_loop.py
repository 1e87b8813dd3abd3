"""The loop a user writes by hand: read, the seed pipeline seeded per file, write.

python plain_loop.py IN OUT
"""

import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from audiomentations import AddGaussianNoise, Compose, PitchShift, Shift

augment = Compose(
    [
        AddGaussianNoise(min_amplitude=0.001, max_amplitude=0.015, p=0.5),
        PitchShift(min_semitones=-4, max_semitones=4, p=0.5),
        Shift(min_shift=-0.5, max_shift=0.5, p=0.5),
    ]
)
source, target = Path(sys.argv[1]), Path(sys.argv[2])
for index, path in enumerate(sorted(source.rglob("*.wav"))):
    random.seed(index)
    np.random.seed(index)
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    augmented = augment(samples[:, 0] if samples.shape[1] == 1 else samples.T, rate)
    out = target / path.relative_to(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, augmented.T if augmented.ndim == 2 else augmented, rate, subtype="PCM_16")
