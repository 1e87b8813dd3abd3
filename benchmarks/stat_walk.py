"""The reference for a finished rerun: a Python walk that stats every input and its output.

python stat_walk.py IN OUT     os.scandir through IN; stat each .wav and OUT's <stem>__aug1.wav
"""

import os
import sys

source, target = sys.argv[1], sys.argv[2]
missing = 0


def walk(folder: str, rel: str) -> None:
    global missing
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.is_dir():
            walk(entry.path, rel + entry.name + "/")
        elif entry.name.endswith(".wav"):
            entry.stat()
            try:
                os.stat(os.path.join(target, rel + entry.name[:-4] + "__aug1.wav"))
            except FileNotFoundError:
                missing += 1


walk(source, "")
sys.exit(1 if missing else 0)
