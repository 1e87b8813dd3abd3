"""Finding the inputs: INPUT_DIR walked in sorted order, by the SPEC's rules.

Hidden entries are skipped; anything that is not a regular file (a FIFO, a socket, a device) is
ignored; symlinked files are read and symlinked folders walked, but each folder is entered once
(by device and inode), so loops end; OUTPUT_DIR, anything inside it, INPUT_DIR and its ancestors
are never entered, however they are reached. A name that is not UTF-8 gives a source that fails
alone (its name escaped), never the run.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audioaug_cli.errors import UsageError
from audioaug_cli.io.audio import AUDIO_EXTENSIONS, Excerpt
from audioaug_cli.io.store import ObjectStore, Store, fingerprint_of, is_url, open_store, reason

NOT_UTF8 = (
    "its name is not valid UTF-8, so its outputs and manifest rows could not name it; "
    "rename it (e.g. `convmv -f latin1 -t utf8`)"
)


@dataclass(frozen=True)
class Source:
    """An input file found by the walk."""

    rel: str  # relative to INPUT_DIR, '/' separated; bytes that are not UTF-8 escaped as \xNN
    path: str  # as the file system names it
    fingerprint: str  # size and mtime: a changed input is redone
    problem: str | None = None  # why this input fails without being read (a name clash, a non-UTF-8 name)
    size: int = 0  # bytes: how work is split between workers
    excerpt: Excerpt | None = None  # only this part of the file (`preview --start/--duration`)


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
) -> Iterator[Source]:
    """Audio files under input_dir in sorted order (a folder's files, then its subfolders)."""
    walk = _Walk(input_dir, output_dir, include, exclude, counts if counts is not None else WalkCounts())
    yield from walk.folder(str(input_dir), "")


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
    ):
        self.include, self.exclude, self.counts = include, exclude, counts
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

    def folder(self, folder: str, prefix: str) -> Iterator[Source]:
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            self.counts.leave_out(prefix.rstrip("/") or ".", "folder cannot be read")
            return
        subfolders = []
        stems: dict[str, str] = {}
        self.counts.entries += len(entries)
        if self.counts.limit is not None and self.counts.entries > self.counts.limit:
            raise WalkTooLarge
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = prefix + entry.name
            link = entry.is_symlink()
            try:
                is_dir = entry.is_dir()  # the entry's own type: no system call unless it is a link
            except OSError:
                is_dir = False  # a link loop: read as a file, it fails alone with the reason
            if not is_dir and not entry.name.lower().endswith(AUDIO_EXTENSIONS):
                self.counts.leave_out(rel, "not an audio file")
                continue
            if not is_dir and not self._selected(rel):
                self.counts.leave_out(rel, "left out by --include/--exclude")
                continue
            try:
                st: os.stat_result | None = entry.stat()  # follows links
            except OSError:
                st = None  # a broken link: read as a file, it fails alone with the reason
            if is_dir:
                if st is not None:  # (else it went away since the listing)
                    subfolders.append((entry, rel, st, link))
                continue
            if st is not None and not stat.S_ISREG(st.st_mode):
                self.counts.leave_out(rel, "not a regular file (a FIFO, socket or device)")
                continue
            if link and self._inside_output(entry.path):
                self.counts.leave_out(rel, "a link into OUTPUT_DIR")
                continue
            stem = entry.name.rpartition(".")[0]
            utf8 = is_utf8(rel)
            shown = rel if utf8 else escaped(rel)  # (the same text, when it is UTF-8)
            problem = None if utf8 else NOT_UTF8
            if problem is None and stem in stems:
                problem = f"its outputs would have the same names as those of {stems[stem]}; rename one of the two"
            stems.setdefault(stem, shown)
            size = st.st_size if st is not None else 0
            fingerprint = f"{st.st_size}:{st.st_mtime_ns}" if st is not None else "unreadable"
            self.counts.audio += 1
            yield Source(shown, entry.path, fingerprint, problem, size)
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
            yield from self.folder(entry.path, rel + "/")

    def _selected(self, rel: str) -> bool:
        return _selected(rel, self.include, self.exclude)


def walk_store(
    store: ObjectStore,
    output: Store | None = None,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    counts: WalkCounts | None = None,
    listing: dict[str, dict[str, Any]] | None = None,
) -> Iterator[Source]:
    """The audio objects under a store's root, by the same rules and in the same order as
    :func:`walk_inputs` (a folder's files, then its subfolders): hidden names are skipped, and
    OUTPUT_DIR, when it lies inside INPUT_DIR, is never entered. One paged listing (``listing``,
    when the caller has it already), never a request per object."""
    counts = counts if counts is not None else WalkCounts()
    found = store.listing() if listing is None else listing
    inside = ""
    if isinstance(output, ObjectStore) and output.protocol == store.protocol:
        if output.root.startswith(store.root.rstrip("/") + "/"):
            inside = output.root[len(store.root.rstrip("/")) + 1 :] + "/"
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


MAX_SOUND_ENTRIES = 100_000  # a noise or impulse-response folder holds files, not a file system
# What audiomentations' own folder walk would take, beyond what audioaug reads with soundfile.
_OTHER_AUDIO = (".aac", ".m4a", ".mp4")


class SoundFolderError(Exception):
    """A noise or impulse-response path that cannot be used; ``problems`` has one line per cause."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


_sound_files: dict[str, tuple[str, ...]] = {}
_fetched: dict[str, str] = {}  # a local copy of a sounds_path URL (its folder) -> that URL


def sound_path(base_dir: str | Path, value: str) -> str:
    """A config's sounds_path / ir_path entry: a URL as it is, a path from the config's folder."""
    return value if is_url(value) else os.fspath(Path(base_dir) / value)


def sound_files(path: str | Path) -> tuple[str, ...]:
    """The audio files of a ``sounds_path`` / ``ir_path`` (a file, or a folder walked by the same
    rules as INPUT_DIR), each checked to decode. Read once per process, then remembered: the config
    check reads it, and the transforms are built from this list, not from a walk of their own.

    A URL is fetched into a folder of this process's own, once: a dask worker far from the
    client fetches it the first time it builds the pipeline, not once per item."""
    key = os.fspath(path)
    if key not in _sound_files:
        if is_url(key):
            local = _fetch(key)
            try:
                _sound_files[key] = _read_sound_files(Path(local))
            except SoundFolderError as exc:
                raise SoundFolderError([p.replace(local, key.rstrip("/")) for p in exc.problems]) from None
        else:
            _sound_files[key] = _read_sound_files(Path(key))
    return _sound_files[key]


def shown_sound_path(path: str) -> str | None:
    """The URL a fetched noise or impulse-response file came from (what the manifest records)."""
    for local, url in _fetched.items():
        if path.startswith(local + os.sep):
            return url.rstrip("/") + "/" + path[len(local) + 1 :].replace(os.sep, "/")
        if path == local:
            return url
    return None


def _fetch(url: str) -> str:
    """A local copy of the audio objects under a URL (or of the one object it names)."""
    import atexit
    import shutil
    import tempfile

    try:
        store = open_store(url, what=url)
    except UsageError as exc:  # an unknown protocol, a missing extra
        raise SoundFolderError([str(exc)]) from None
    if not isinstance(store, ObjectStore):
        return os.fspath(store.path(""))
    folder = tempfile.mkdtemp(prefix="audioaug-sounds-")
    owner = os.getpid()
    atexit.register(lambda: shutil.rmtree(folder, ignore_errors=True) if os.getpid() == owner else None)
    try:
        listing = store.listing()
        if not listing and store.fs.isfile(store.root):  # the URL names one file
            name = store.root.rsplit("/", 1)[-1]
            local = os.path.join(folder, name)
            Path(local).write_bytes(store.fs.cat_file(store.root))
            _fetched[local] = url
            return local
    except OSError as exc:
        raise SoundFolderError([f"{url}: cannot read: {reason(exc)}"]) from None
    if not listing:
        raise SoundFolderError([f"no such file or folder: {url}"])
    if len(listing) > MAX_SOUND_ENTRIES:
        raise SoundFolderError([f"{url} holds more than {MAX_SOUND_ENTRIES:,} objects: point it at a folder of sounds"])
    wanted = [
        rel
        for rel in listing
        if not any(part.startswith(".") for part in rel.split("/")) and rel.lower().endswith(AUDIO_EXTENSIONS)
    ]
    try:
        for rel, data in zip(wanted, _cat_all(store, wanted), strict=True):
            target = Path(folder, *rel.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    except OSError as exc:
        raise SoundFolderError([f"{url}: cannot read: {reason(exc)}"]) from None
    _fetched[folder] = url
    return folder


def _cat_all(store: ObjectStore, rels: list[str]) -> list[bytes]:
    """Many objects' bytes, fetched concurrently where the filesystem can (fsspec's cat)."""
    if not rels:
        return []
    found = store.fs.cat([store.path(rel) for rel in rels], on_error="raise")
    return [found[store.path(rel)] for rel in rels]


def _read_sound_files(path: Path) -> tuple[str, ...]:
    if not os.path.exists(path):
        raise SoundFolderError([f"no such file or folder: {path} (paths are relative to the config's folder)"])
    if not path.is_dir():
        if not path.is_file():
            raise SoundFolderError([f"{path} is not a regular file or folder"])
        if not path.name.lower().endswith(AUDIO_EXTENSIONS):
            raise SoundFolderError([f"{path} is not an audio file ({' '.join(AUDIO_EXTENSIONS)})"])
        files = [str(path)]
    else:
        others: list[str] = []
        counts = WalkCounts(
            limit=MAX_SOUND_ENTRIES,
            report=lambda rel, reason: others.append(rel) if rel.lower().endswith(_OTHER_AUDIO) else None,
        )
        try:
            files = [source.path for source in walk_inputs(path, counts=counts)]
        except WalkTooLarge:
            raise SoundFolderError(
                [f"{path} holds more than {MAX_SOUND_ENTRIES:,} files and folders: point it at a folder of sounds"]
            ) from None
        problems = [
            f"{path / rel}: audioaug reads sounds that soundfile decodes ({' '.join(AUDIO_EXTENSIONS)}); "
            "convert it, e.g. to .flac"
            for rel in others
        ]
        if not files and not problems:
            problems.append(f"{path} holds no audio files ({' '.join(AUDIO_EXTENSIONS)})")
        if problems:
            raise SoundFolderError(problems)
    problems = [f"{escaped(file)}: {reason}" for file in files if (reason := _undecodable(file)) is not None]
    if problems:
        raise SoundFolderError(problems)
    return tuple(files)


def _undecodable(path: str) -> str | None:
    """Why soundfile cannot read this file's header, or None."""
    import soundfile

    try:
        info = soundfile.info(path)
    except Exception as exc:
        reason = getattr(exc, "error_string", None) or str(exc)
        return f"cannot decode: {' '.join(reason.split()).rstrip('.') or type(exc).__name__}"
    if info.frames == 0:
        return "no audio: the file has 0 frames"
    return None
