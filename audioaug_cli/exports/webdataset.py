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

from audioaug_cli.exports.corpus import Corpus, Output
from audioaug_cli.io.store import LocalStore, ObjectStore, Store

SHARD = "shard-{:06d}.tar"
_SHARD_NAME = re.compile(r"shard-(\d{6})\.tar$")


def sample_key(output: Output) -> str:
    folder, _slash, name = output.stem().rpartition("/")
    escaped = name.replace("~", "~7e").replace(".", "~2e")
    return f"{folder}/{escaped}" if folder else escaped


def export(corpus: Corpus, dest: Store, advance: Callable[[int], None], shard_size: int) -> tuple[list[str], int]:
    outputs = corpus.outputs
    names = []
    for number, first in enumerate(range(0, len(outputs), shard_size)):
        name = SHARD.format(number)
        with dest.open_write(name) as handle:
            _write_shard(corpus, outputs[first : first + shard_size], handle, advance)
        names.append(name)
    for stale in _shards(dest) - set(names):  # from an earlier export of more outputs
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
            feature = output.row.get("feature_file")
            if feature:
                _add(tar, f"{key}.npy", corpus.store.read_bytes(feature))
            advance(1)


def _described(output: Output) -> dict[str, Any]:
    found = dict(output.row)
    if output.segments is not None:
        found["segments"] = [{"start": s.start, "end": s.end, **s.cells} for s in output.segments]
    return found


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def _shards(dest: Store) -> set[str]:
    if isinstance(dest, ObjectStore):
        return {name for name in dest.listing() if "/" not in name and _SHARD_NAME.fullmatch(name)}
    assert isinstance(dest, LocalStore)
    if not dest.root.is_dir():
        return set()
    return {p.name for p in dest.root.iterdir() if _SHARD_NAME.fullmatch(p.name)}
