"""The floor: read and write every file with soundfile, nothing else. python floor.py IN OUT"""

import sys
from pathlib import Path

import soundfile as sf

source, target = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(source.rglob("*.wav")):
    samples, rate = sf.read(path, dtype="float32")
    out = target / path.relative_to(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, samples, rate, subtype="PCM_16")
