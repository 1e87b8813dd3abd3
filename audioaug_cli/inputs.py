"""Finding the inputs: INPUT_DIR walked in sorted order, hidden entries and OUTPUT_DIR skipped."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .audio_io import AUDIO_EXTENSIONS


@dataclass(frozen=True)
class Source:
    """An input file found by the walk."""

    rel: str  # relative to INPUT_DIR, '/' separated
    path: str
    fingerprint: str  # size and mtime: a changed input is redone
    conflict: str | None = None  # another input in the same folder whose outputs would share names
    size: int = 0  # bytes: how work is split between workers


@dataclass
class WalkCounts:
    audio: int = 0  # audio files found (and selected)
    ignored: int = 0  # non-audio files, unreadable folders, files left out by --include/--exclude


def walk_inputs(input_dir: Path, skip_dir: Path | None = None, include: tuple[str, ...] = (),
                exclude: tuple[str, ...] = (), counts: WalkCounts | None = None) -> Iterator[Source]:
    """Audio files under input_dir in sorted order (a folder's files, then its subfolders).

    Hidden entries are skipped, symlinks followed (a folder is entered once, so loops end), and
    ``skip_dir`` (OUTPUT_DIR, when it lies inside INPUT_DIR) is never entered.
    """
    counts = counts if counts is not None else WalkCounts()
    skip = _dir_key(skip_dir) if skip_dir is not None else None
    visited = {_dir_key(input_dir)}
    yield from _walk(input_dir, "", visited, skip, include, exclude, counts)


def output_dir_inside(input_dir: Path, output_dir: Path) -> Path | None:
    """OUTPUT_DIR when it lies inside INPUT_DIR (the walk must not enter it), else None."""
    return output_dir if output_dir.exists() and output_dir.resolve().is_relative_to(input_dir.resolve()) else None


def _dir_key(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _walk(folder: Path, prefix: str, visited: set[Any], skip: Any, include: tuple[str, ...],
          exclude: tuple[str, ...], counts: WalkCounts) -> Iterator[Source]:
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        counts.ignored += 1
        return
    subfolders = []
    stems: dict[str, str] = {}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            subfolders.append(entry)
            continue
        rel = prefix + entry.name
        if not entry.name.lower().endswith(AUDIO_EXTENSIONS) or not _selected(rel, include, exclude):
            counts.ignored += 1
            continue
        stem = entry.name.rpartition(".")[0]
        fingerprint, size = _fingerprint(entry.path)
        counts.audio += 1
        yield Source(rel, entry.path, fingerprint, stems.get(stem), size)
        stems.setdefault(stem, rel)
    for entry in subfolders:
        key = _dir_key(Path(entry.path))
        if key is None or key in visited or key == skip:
            continue
        visited.add(key)
        yield from _walk(Path(entry.path), f"{prefix}{entry.name}/", visited, skip, include, exclude, counts)


def _selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatchcase(rel, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(rel, g) for g in exclude)


def _fingerprint(path: str) -> tuple[str, int]:
    """(size and mtime, size): what marks a changed input, and how much work it is."""
    try:
        st = os.stat(path)
    except OSError:
        return "unreadable", 0
    return f"{st.st_size}:{st.st_mtime_ns}", st.st_size
