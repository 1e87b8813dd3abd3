"""`audioaug export`: a finished OUTPUT_DIR in the form a training toolkit loads directly.

  corpus.py      the outputs, labels and segments of OUTPUT_DIR, read from its manifest
  lhotse.py      recordings.jsonl.gz, supervisions.jsonl.gz
  nemo.py        manifest.json (JSON lines)
  kaldi.py       a data directory: wav.scp, utt2spk, spk2utt, segments, text, utt2uniq, ...
  webdataset.py  tar shards

Every file is written whole under a temporary name and renamed into place (one PUT on a store),
so a killed export leaves none half-written, and the same OUTPUT_DIR exports to the same bytes:
a rerun replaces what an interrupted one left.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audioaug_cli.errors import UsageError
from audioaug_cli.exports.corpus import read_corpus
from audioaug_cli.io.store import LocalStore, ObjectStore, open_store

FORMATS = ("lhotse", "nemo", "kaldi", "webdataset")
SHARD_SIZE = 1000


@dataclass(frozen=True)
class Exported:
    files: list[str]  # what was written in DEST
    outputs: int  # the outputs of OUTPUT_DIR exported
    items: int  # supervisions, manifest lines, utterances or samples


def export(
    output_dir: str | os.PathLike[str],
    to: str,
    dest: str | os.PathLike[str],
    options: dict[str, Any] | None = None,
    shard_size: int = SHARD_SIZE,
    started: Callable[[int], Callable[[int], None]] | None = None,
) -> Exported:
    """Write OUTPUT_DIR's outputs into DEST in format ``to``. ``started(total)`` gives the callback
    that is told of each output done (a progress bar)."""
    if to not in FORMATS:
        raise UsageError(f"cannot export to {to!r}: the formats are {', '.join(FORMATS)}")
    corpus = read_corpus(output_dir, options)
    target = open_store(dest, options, f"DEST {dest}")
    if isinstance(target, LocalStore) and target.root.exists() and not target.root.is_dir():
        raise UsageError(f"DEST {target} is a file: give a folder (made if missing)")
    if isinstance(target, ObjectStore) and target.read_only:
        raise UsageError(f"DEST {target} is read-only ({target.protocol}://): give a folder or a bucket to write to")
    if isinstance(target, LocalStore):
        target.root.mkdir(parents=True, exist_ok=True)
    advance = started(len(corpus.outputs)) if started is not None else (lambda _n: None)
    if to == "lhotse":
        from audioaug_cli.exports import lhotse

        files, items = lhotse.export(corpus, target, advance)
    elif to == "nemo":
        from audioaug_cli.exports import nemo

        files, items = nemo.export(corpus, target, advance)
    elif to == "kaldi":
        from audioaug_cli.exports import kaldi

        files, items = kaldi.export(corpus, target, advance)
    else:
        from audioaug_cli.exports import webdataset

        files, items = webdataset.export(corpus, target, advance, shard_size)
    return Exported(files, len(corpus.outputs), items)
