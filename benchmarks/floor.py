"""The floor: read and write every file with soundfile, nothing else.

python floor.py IN OUT              soundfile.write(path): libsndfile fsyncs each file on close
python floor.py IN OUT --no-fsync   soundfile.write(handle): no fsync, as audioaug writes
"""

import sys
from pathlib import Path

import soundfile as sf

source, target = Path(sys.argv[1]), Path(sys.argv[2])
through_handle = "--no-fsync" in sys.argv[3:]
for path in sorted(source.rglob("*.wav")):
    samples, rate = sf.read(path, dtype="float32")
    out = target / path.relative_to(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    if through_handle:
        with open(out, "wb") as handle:
            sf.write(handle, samples, rate, subtype="PCM_16", format="WAV")
    else:
        sf.write(out, samples, rate, subtype="PCM_16")
