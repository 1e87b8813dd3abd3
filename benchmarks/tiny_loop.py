"""The reference for small clips: the loop a user would write to apply a gain to every file.

python tiny_loop.py IN OUT     read each WAV with soundfile, scale it by a random gain, write it

It writes through an open file, as audioaug does: given a path, libsndfile fsyncs every file it
closes, which on a corpus of tiny clips is most of the time and no part of the comparison.
"""

import random
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

source, target = Path(sys.argv[1]), Path(sys.argv[2])
draw = random.Random(0)
for path in sorted(source.rglob("*.wav")):
    samples, rate = sf.read(path, dtype="float32")
    gain = np.float32(10 ** (draw.uniform(-12, 12) / 20))
    out = target / path.relative_to(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as handle:
        sf.write(handle, samples * gain, rate, subtype="PCM_16", format="WAV")
