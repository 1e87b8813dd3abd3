"""Finding the inputs: INPUT_DIR walked in sorted order, by the SPEC's rules.

Hidden entries are skipped; anything that is not a regular file (a FIFO, a socket, a device) is
ignored; symlinked files are read and symlinked folders walked, but each folder is entered once
(by device and inode), so loops end; OUTPUT_DIR, anything inside it, INPUT_DIR and its ancestors
are never entered, however they are reached. A name that is not UTF-8 gives a source that fails
alone (its name escaped), never the run.
"""

from __future__ import annotations

import fnmatch
import operator
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audioaug_cli.io.filesystems import fingerprint_of
from audioaug_cli.io.formats import AUDIO_EXTENSIONS
from audioaug_cli.io.store import ObjectStore

if TYPE_CHECKING:
    from audioaug_cli.io.audio import Excerpt

NOT_UTF8 = (
    "its name is not valid UTF-8, so its outputs and manifest rows could not name it; "
    "rename it (e.g. `convmv -f latin1 -t utf8`)"
)


@dataclass(slots=True)
class Source:
    """An input file found by the walk (never changed once made: :func:`dataclasses.replace`
    makes another). Slotted and not frozen: the walk makes one per input, in a quarter of the
    time a frozen one takes."""

    rel: str  # relative to INPUT_DIR, '/' separated; bytes that are not UTF-8 escaped as \xNN
    path: str  # as the file system names it
    fingerprint: str  # size and mtime: a changed input is redone (UNDESCRIBED: read by its worker)
    problem: str | None = None  # why this input fails without being read (a name clash, a non-UTF-8 name)
    size: int = 0  # bytes: how work is split between workers
    excerpt: Excerpt | None = None  # only this part of the file (`preview --start/--duration`)


UNDESCRIBED = ""  # the fingerprint of a source whose size and mtime its worker reads (see described)


def described(source: Source) -> Source:
    """A source with its size and mtime read, if the walk left that to the worker that reads it."""
    if source.fingerprint != UNDESCRIBED:
        return source
    try:
        st = os.stat(source.path)
    except OSError:
        return replace(source, fingerprint="unreadable")  # gone since the walk: reading it fails alone
    return replace(source, fingerprint=_fingerprint(st), size=st.st_size)


def _fingerprint(st: os.stat_result) -> str:
    return f"{st.st_size}:{st.st_mtime_ns}"


@dataclass
class WalkCounts:
    """What the walk found besides sources. ``report(rel, reason)`` is told of each entry left
    out (a file ignored, a link not followed), for ``-v``."""

    audio: int = 0  # audio files found (and selected)
    ignored: int = 0  # non-audio and non-regular files, unreadable folders, files left out by --include/--exclude
    report: Callable[[str, str], None] | None = field(default=None, repr=False)
    limit: int | None = None  # at most this many entries looked at, or WalkTooLarge
    entries: int = 0

    def leave_out(self, rel: str, reason: str, counted: bool = True) -> None:
        self.ignored += counted
        if self.report is not None:
            self.report(escaped(rel), reason)


class WalkTooLarge(Exception):
    """The walk looked at more entries than its limit (a noise folder pointed at /usr, say)."""


def escaped(name: str) -> str:
    """A file system name as text: bytes that are not UTF-8 written as \\xNN."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def is_utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # os.scandir gives undecodable bytes as lone surrogates
        return False
    return True


def walk_inputs(
    input_dir: Path,
    output_dir: Path | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    counts: WalkCounts | None = None,
    describe: bool = True,
) -> Iterator[Source]:
    """Audio files under input_dir in sorted order (a folder's files, then its subfolders).

    ``describe=False``: a regular file's size and mtime are left to the worker that reads it
    (:func:`described`), which costs the walk no system call for it, only for links and entries
    whose type the listing does not give."""
    walk = _Walk(input_dir, output_dir, include, exclude, counts if counts is not None else WalkCounts(), describe)
    # Depth first with a stack of each open folder's subfolders, not by recursion: a tree
    # thousands of folders deep is walked like any other.
    stack: list[Iterator[tuple[str, str]]] = [iter([(str(input_dir), "")])]
    while stack:
        found = next(stack[-1], None)
        if found is None:
            stack.pop()
            continue
        subfolders: list[Any] = []
        yield from walk.folder(*found, subfolders)
        stack.append(walk.entered(subfolders))


_name = operator.attrgetter("name")  # (a key sorted() calls without a Python frame)


def _key(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class _Walk:
    def __init__(
        self,
        input_dir: Path,
        output_dir: Path | None,
        include: tuple[str, ...],
        exclude: tuple[str, ...],
        counts: WalkCounts,
        describe: bool = True,
    ):
        self.include, self.exclude, self.counts, self.describe = include, exclude, counts, describe
        self.selecting = bool(include or exclude)
        # Never entered: INPUT_DIR itself (it is the start), its ancestors (a link `up -> ..` would
        # walk everything around it), OUTPUT_DIR (the run's own outputs).
        root = input_dir.resolve()
        self.visited = {_key(os.stat(p)) for p in (root, *root.parents)}
        self.output_real: str | None = None
        self.output_key: tuple[int, int] | None = None
        if output_dir is not None:
            self.output_real = os.path.realpath(output_dir)
            try:
                self.output_key = _key(os.stat(output_dir))
            except OSError:
                pass  # not made yet: nothing can link to it

    def _inside_output(self, path: str) -> bool:
        if self.output_real is None:
            return False
        real = os.path.realpath(path)
        return real == self.output_real or real.startswith(self.output_real.rstrip(os.sep) + os.sep)

    def folder(self, folder: str, prefix: str, below: list[Any]) -> Iterator[Source]:
        """The folder's audio files; its subfolders are added to ``below``, to be walked after.
        (Run once per input: what the loop needs is held in locals.)"""
        counts = self.counts
        try:
            entries = sorted(os.scandir(folder), key=_name)
        except OSError:
            counts.leave_out(prefix.rstrip("/") or ".", "folder cannot be read")
            return
        stems: dict[str, str] = {}
        counts.entries += len(entries)
        if counts.limit is not None and counts.entries > counts.limit:
            raise WalkTooLarge
        selecting, include, exclude, describe = self.selecting, self.include, self.exclude, self.describe
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            rel = prefix + name
            # a regular file as listed (no system call) is described by its worker, when asked to
            lazy = not describe and entry.is_file(follow_symlinks=False)
            link = is_dir = False
            if not lazy:
                link = entry.is_symlink()
                try:
                    is_dir = entry.is_dir()  # the entry's own type: no system call unless it is a link
                except OSError:
                    is_dir = False  # a link loop: read as a file, it fails alone with the reason
            if not is_dir:
                if not name.lower().endswith(AUDIO_EXTENSIONS):
                    counts.leave_out(rel, "not an audio file")
                    continue
                if selecting and not _selected(rel, include, exclude):
                    counts.leave_out(rel, "left out by --include/--exclude")
                    continue
            st: os.stat_result | None = None
            if not lazy:
                try:
                    st = entry.stat()  # follows links
                except OSError:
                    st = None  # a broken link: read as a file, it fails alone with the reason
            if is_dir:
                if st is not None:  # (else it went away since the listing)
                    below.append((entry, rel, st, link))
                continue
            if st is not None and not stat.S_ISREG(st.st_mode):
                counts.leave_out(rel, "not a regular file (a FIFO, socket or device)")
                continue
            if link and self._inside_output(entry.path):
                counts.leave_out(rel, "a link into OUTPUT_DIR")
                continue
            stem = name.rpartition(".")[0]
            problem = None
            if not rel.isascii() and not is_utf8(rel):
                rel, problem = escaped(rel), NOT_UTF8
            elif stem in stems:
                problem = f"its outputs would have the same names as those of {stems[stem]}; rename one of the two"
            stems.setdefault(stem, rel)
            counts.audio += 1
            if st is not None:
                yield Source(rel, entry.path, _fingerprint(st), problem, st.st_size)
            else:
                yield Source(rel, entry.path, UNDESCRIBED if lazy else "unreadable", problem)

    def entered(self, subfolders: list[Any]) -> Iterator[tuple[str, str]]:
        """The subfolders to walk, in order, each (path, prefix), checked when its turn comes:
        OUTPUT_DIR and a folder already walked (a link loop, INPUT_DIR's parents) are not entered."""
        for entry, rel, st, link in subfolders:
            key = _key(st)
            if key == self.output_key or (link and self._inside_output(entry.path)):
                self.counts.leave_out(rel, "OUTPUT_DIR, or a link into it: not followed", counted=False)
                continue
            if key in self.visited:
                if link:
                    self.counts.leave_out(
                        rel,
                        "a link to a folder already walked (or to INPUT_DIR or one of its parents): not followed",
                        counted=False,
                    )
                continue
            self.visited.add(key)
            yield entry.path, rel + "/"


def walk_store(
    store: ObjectStore,
    inside: str = "",
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    counts: WalkCounts | None = None,
    listing: dict[str, dict[str, Any]] | None = None,
) -> Iterator[Source]:
    """The audio objects under a store's root, by the same rules and in the same order as
    :func:`walk_inputs` (a folder's files, then its subfolders): hidden names are skipped, and
    OUTPUT_DIR, when it lies inside INPUT_DIR (under the prefix ``inside``), is never entered.
    One paged listing (``listing``, when the caller has it already), never a request per object."""
    counts = counts if counts is not None else WalkCounts()
    found = store.listing() if listing is None else listing
    counts.entries += len(found)
    if counts.limit is not None and counts.entries > counts.limit:
        raise WalkTooLarge
    stems: dict[tuple[str, str], str] = {}
    skipped_output = False
    for rel in sorted(found, key=_tree_order):
        parts = rel.split("/")
        if any(part.startswith(".") for part in parts) or not rel:
            continue
        if inside and rel.startswith(inside):
            if not skipped_output:
                counts.leave_out(inside.rstrip("/"), "OUTPUT_DIR, or a link into it: not followed", counted=False)
                skipped_output = True
            continue
        if not rel.lower().endswith(AUDIO_EXTENSIONS):
            counts.leave_out(rel, "not an audio file")
            continue
        if not _selected(rel, include, exclude):
            counts.leave_out(rel, "left out by --include/--exclude")
            continue
        folder, _slash, name = rel.rpartition("/")
        stem = name.rpartition(".")[0]
        problem = None
        if (folder, stem) in stems:
            problem = f"its outputs would have the same names as those of {stems[folder, stem]}; rename one of the two"
        stems.setdefault((folder, stem), rel)
        info = found[rel]
        counts.audio += 1
        yield Source(rel, store.path(rel), fingerprint_of(info), problem, int(info.get("size") or 0))


def _tree_order(rel: str) -> tuple[tuple[int, str], ...]:
    """A folder's files (0) before its subfolders (1), each by name: the local walk's order."""
    parts = rel.split("/")
    return (*((1, part) for part in parts[:-1]), (0, parts[-1]))


def _selected(rel: str, include: tuple[str, ...], exclude: tuple[str, ...]) -> bool:
    if include and not any(fnmatch.fnmatchcase(rel, g) for g in include):
        return False
    return not any(fnmatch.fnmatchcase(rel, g) for g in exclude)
