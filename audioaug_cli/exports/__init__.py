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

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from audioaug_cli.errors import UsageError

SHARD_SIZE = 1000


@dataclass(frozen=True)
class Format:
    """An export format: its module (``export(corpus, dest, advance, shard_size)`` and
    ``names(corpus, dest, shard_size)``, the files it may write or remove in DEST), and what one
    of the items it writes is called."""

    name: str
    module: str
    unit: str


FORMATS = {
    f.name: f
    for f in (
        Format("lhotse", "lhotse", "supervision(s)"),
        Format("nemo", "nemo", "line(s)"),
        Format("kaldi", "kaldi", "utterance(s)"),
        Format("webdataset", "webdataset", "sample(s)"),
    )
}


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
    overwrite: bool = False,
) -> Exported:
    """Write OUTPUT_DIR's outputs into DEST in format ``to``. ``started(total)`` gives the callback
    that is told of each output done (a progress bar). A file in DEST that no export wrote is
    refused (UsageError, nothing written) unless ``overwrite``."""
    # imported here: every other command reads FORMATS (for its options) and nothing else of this
    from audioaug_cli.exports.corpus import read_corpus
    from audioaug_cli.exports.dest import dest_place, owned_dest
    from audioaug_cli.io.store import open_store

    found = FORMATS.get(to)
    if found is None:
        raise UsageError(f"cannot export to {to!r}: the formats are {', '.join(FORMATS)}")
    corpus = read_corpus(output_dir, options)
    target = open_store(dest, options, f"DEST {dest}")
    place = dest_place(target, overwrite)
    module = importlib.import_module(f"audioaug_cli.exports.{found.module}")
    module.check(corpus)
    with owned_dest(place) as owned:
        owned.claim(module.names(corpus, owned, shard_size))
        advance = started(len(corpus.outputs)) if started is not None else (lambda _n: None)
        files, items = module.export(corpus, target, advance, shard_size)
        owned.finish(files)
    return Exported(files, len(corpus.outputs), items)
