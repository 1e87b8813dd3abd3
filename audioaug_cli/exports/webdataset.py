"""WebDataset: tar shards of ``--shard-size`` samples (``shard-000000.tar``, ...), each sample its
audio file as written (``KEY.wav``, ``KEY.flac``, ``KEY.ogg``), ``KEY.json`` (the manifest row with
its labels, and ``segments`` with --segments) and ``KEY.npy`` when a feature was written. KEY is
the output's file name without its extension, with ``.`` and ``~`` written as ``~2e`` and ``~7e``
(WebDataset takes a member's key up to the first dot of its name). The same bytes on every export:
members in manifest order, no times, owners or modes of this machine."""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Callable
from typing import IO, Any

from audioaug_cli.exports.corpus import Corpus, Output, require_items
from audioaug_cli.exports.dest import OwnedDest, dest_place
from audioaug_cli.io.store import Store

SHARD = "shard-{:06d}.tar"
_SHARD_NAME = re.compile(r"shard-(\d{6})\.tar$")


def sample_key(output: Output) -> str:
    folder, _slash, name = output.stem().rpartition("/")
    escaped = name.replace("~", "~7e").replace(".", "~2e")
    return f"{folder}/{escaped}" if folder else escaped


def check(corpus: Corpus) -> None:
    require_items(corpus, "WebDataset", spans=False)


def _planned(corpus: Corpus, shard_size: int) -> list[str]:
    return [SHARD.format(number) for number in range(-(-len(corpus.outputs) // shard_size))]


def names(corpus: Corpus, dest: OwnedDest, shard_size: int) -> set[str]:
    """The shards this export writes, and those of an earlier, larger export that it removes."""
    return {*_planned(corpus, shard_size), *dest.names(_SHARD_NAME.fullmatch)}


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    outputs = corpus.outputs
    names = _planned(corpus, shard_size)
    for number, name in enumerate(names):
        with dest.open_write(name) as handle:
            _write_shard(corpus, outputs[number * shard_size : (number + 1) * shard_size], handle, advance)
    for stale in sorted(_stale(dest, names)):  # from an earlier export of more outputs (DEST's record lists them)
        dest.remove(stale)
    return names, len(outputs)


def _write_shard(
    corpus: Corpus, outputs: tuple[Output, ...], handle: IO[bytes], advance: Callable[[int], None]
) -> None:
    with tarfile.open(fileobj=handle, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for output in outputs:
            key = sample_key(output)
            if output.has_audio:
                extension = output.file_name.rpartition(".")[2].lower()
                _add(tar, f"{key}.{extension}", corpus.store.read_bytes(output.file_name))
            _add(tar, f"{key}.json", (json.dumps(_described(output), ensure_ascii=False) + "\n").encode("utf-8"))
            for stem, name in output.stems.items():  # KEY.target.wav, KEY.noise.wav, ...
                _add(tar, f"{key}.{stem}.{name.rpartition('.')[2].lower()}", corpus.store.read_bytes(name))
            feature = output.row.get("feature_file")
            if feature:
                _add(tar, f"{key}.npy", corpus.store.read_bytes(feature))
            advance(1)


def _described(output: Output) -> dict[str, Any]:
    found = dict(output.row)
    if output.segments is not None:
        found["segments"] = [
            {"start": s.start, "end": s.end, **{k: v for k, v in s.cells.items() if k not in ("start", "end")}}
            for s in output.segments
        ]
    return found


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _stale(dest: Store, keep: list[str]) -> set[str]:
    """Shards in DEST beyond this export's (the ownership check before the export refused any that
    an export did not write)."""
    return dest_place(dest, overwrite=False).names(_SHARD_NAME.fullmatch) - set(keep)
